import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { replaceConfigTable } from './config-table';

const path = join(__dirname, '..', 'README.md');
writeFileSync(path, replaceConfigTable(readFileSync(path, 'utf8')));
process.stdout.write('README.md configuration table regenerated\n');
