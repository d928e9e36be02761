/// <reference lib="dom" />
// Functions passed to page.evaluate run in the browser: DOM types for them.
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeProblem {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core (from npm, injected by the test through the DevTools protocol, so the page's
 * CSP stays as it is) on the page as it is now, and returns the serious and critical
 * violations. `label-content-name-mismatch` is turned on: accessible names must contain the
 * visible labels.
 */
export async function seriousA11yProblems(page: Page): Promise<AxeProblem[]> {
  const injected = await page.evaluate(() => typeof (window as { axe?: unknown }).axe);
  if (injected === 'undefined') await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const axe = (
      window as unknown as { axe: { run: (ctx: unknown, o: unknown) => Promise<unknown> } }
    ).axe;
    return axe.run(document, {
      resultTypes: ['violations'],
      rules: { 'label-content-name-mismatch': { enabled: true } },
    });
  });
  const violations = (
    result as {
      violations: Array<{
        id: string;
        impact: string | null;
        help: string;
        nodes: Array<{ target: string[] }>;
      }>;
    }
  ).violations;
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
}
