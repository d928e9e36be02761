// Lint wall: src/core stays pure (no I/O clients), promises are never left floating,
// and type-only imports stay type-only so the layers do not load each other at run time.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = [
  'kafkajs',
  '@kafkajs/confluent-schema-registry',
  'ioredis',
  'jsforce',
  'jsforce/*',
  'faye',
  'express',
  'prom-client',
  'fs',
  'node:fs',
  'fs/promises',
  'node:fs/promises',
  'http',
  'node:http',
  'https',
  'node:https',
  'net',
  'node:net',
  'child_process',
  'node:child_process',
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      '.cache/**',
      '**/*.mjs',
      '**/*.js',
      // The console's browser scripts are linted (below), not ignored like config files.
      '!console/js/**/*.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ioModules.filter((m) => !m.endsWith('/*')),
          patterns: [
            { group: ['jsforce/*'], message: 'src/core is pure: no I/O clients.' },
            { group: ['../infra/*', '../infra/**', '../sandbox/**', '../admin/**'], message: 'src/core must not depend on adapters.' },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    // The admin console: plain ES modules for the browser. Their types (and undefined names)
    // are checked by tsc through console/tsconfig.json, so only the type-free rules run here.
    files: ['console/js/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'module',
      ecmaVersion: 2022,
    },
    rules: {
      ...tseslint.configs.disableTypeChecked.rules,
      'no-undef': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[property.name='innerHTML']", message: 'Build DOM with h(): values reach the page as text.' },
        { selector: "MemberExpression[property.name='outerHTML']", message: 'Build DOM with h(): values reach the page as text.' },
        { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: 'Build DOM with h(): values reach the page as text.' },
      ],
    },
  },
);
