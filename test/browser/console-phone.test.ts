/// <reference lib="dom" />
// Functions passed to page.evaluate run in the browser: DOM types for them.
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { eventually } from '../fixtures/e2e';
import { seriousA11yProblems } from './axe';
import { CHROMIUM, startConsoleFixture } from './console-fixture';
import type { ConsoleFixture } from './console-fixture';

/**
 * The console on a 360 px wide phone screen: every view fits without sideways scrolling and
 * passes axe-core; the tile's package-missing state leads to the install steps and back; an
 * API error shows its message, never a blank page.
 */

const ORG = 'org_demo';
jest.setTimeout(120_000);

if (!existsSync(CHROMIUM)) {
  throw new Error(
    `${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium), as .ci/run does`,
  );
}

let fx: ConsoleFixture;

/**
 * The page's content. Notices are looked up here: the same words also go to the live region
 * for screen readers (after a short delay), which must not make a lookup ambiguous.
 */
const main = () => page.locator('#main');
let page: Page;

beforeAll(async () => {
  fx = await startConsoleFixture({ viewport: { width: 360, height: 740 } });
  page = fx.page;
});

afterAll(async () => {
  await fx?.close();
});

/** The view fits the screen (nothing wider than the viewport) and axe finds nothing serious. */
async function fitsAndAccessible(view: string): Promise<void> {
  const overflow = await page.evaluate(() => ({
    page: document.documentElement.scrollWidth,
    viewport: document.documentElement.clientWidth,
  }));
  expect({ view, ...overflow }).toEqual({
    view,
    page: overflow.viewport,
    viewport: overflow.viewport,
  });
  expect({ view, problems: await seriousA11yProblems(page) }).toEqual({ view, problems: [] });
}

test('the axe check finds a planted problem (it is not a check that cannot fail)', async () => {
  await page.goto(`${fx.connector.url}/`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.id = 'planted';
    document.getElementById('main')!.append(input);
  });
  const problems = await seriousA11yProblems(page);
  expect(problems.map((p) => p.id)).toContain('label');
  await page.evaluate(() => document.getElementById('planted')!.remove());
});

test('at 360 px: sign in, organizations, the tile, settings, errors and lookup fit and pass axe', async () => {
  await fitsAndAccessible('sign-in');
  await page.getByLabel('Admin token').fill(fx.connector.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Organizations' }).waitFor();
  await fitsAndAccessible('organizations');

  await page.getByRole('link', { name: ORG }).click();
  await page.getByRole('region', { name: 'Salesforce', exact: true }).waitFor();
  await page.getByRole('meter', { name: 'Salesforce API budget' }).waitFor();
  await fitsAndAccessible('integrations');

  await page.getByRole('link', { name: 'Edit Settings' }).click();
  await page.getByRole('heading', { name: 'Salesforce Integration Settings' }).waitFor();
  await page.getByRole('img', { name: /Records synced per run/ }).waitFor();
  await page.getByRole('switch', { name: 'Automatic Syncing' }).check();
  await page.getByLabel('Every day at a specific time').check();
  // The zone picker starts at the browser's zone.
  expect(await page.getByLabel('Time zone').inputValue()).toBe('America/Vancouver');
  await fitsAndAccessible('settings');

  await page.getByRole('link', { name: 'Errors' }).click();
  await page.getByRole('heading', { name: 'No errors' }).waitFor();
  await fitsAndAccessible('errors');

  await page.getByRole('link', { name: 'Volunteer lookup' }).click();
  await page.getByLabel('Email or id').fill('someone@example.org');
  await page.getByRole('button', { name: 'Look up' }).click();
  await main()
    .getByText('Neither InitLive nor Salesforce has a volunteer with that email')
    .waitFor();
  await fitsAndAccessible('volunteer lookup');
});

test('package missing: the tile links to the install steps; Reconnect after installing connects', async () => {
  const sf = fx.connector.sandboxes!.salesforce.control;
  sf.uninstallPackage();
  try {
    await page.getByRole('link', { name: 'Integrations' }).click();
    const tile = page.getByRole('region', { name: 'Salesforce', exact: true });
    await tile.getByRole('button', { name: 'Disconnect' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Disconnect' }).click();
    await tile.getByRole('button', { name: 'Connect' }).click();
    await main().getByText('the InitLive package is missing').waitFor();
    await eventually(async () => expect(await tile.textContent()).toContain('Package missing'));
    await fitsAndAccessible('package missing');

    await tile.getByRole('link', { name: 'Install the InitLive package' }).click();
    await page.getByRole('heading', { name: 'Install the InitLive package' }).waitFor();
    await page.getByRole('cell', { name: 'InitLive_Staff_Id__c' }).waitFor();
    await fitsAndAccessible('install steps');
    sf.installPackage();
    await page.goBack();
    await tile.getByRole('button', { name: 'Reconnect' }).click();
    await main().getByText('Salesforce is connected.').waitFor();
    await eventually(async () => expect(await tile.textContent()).toContain('Connected'));
  } finally {
    sf.installPackage();
  }
});

test('needs reauthorization: the tile says why, and Reconnect authorizes again', async () => {
  // What a refresh refused with invalid_grant does to an organization.
  await fx.connector.directory.markNeedsReauth(ORG, 'the refresh token was revoked in Salesforce');
  await page.goto(`${fx.connector.url}/#/orgs/${ORG}`);
  const tile = page.getByRole('region', { name: 'Salesforce', exact: true });
  await eventually(async () => expect(await tile.textContent()).toContain('Needs reauthorization'));
  expect(await tile.textContent()).toContain('the refresh token was revoked in Salesforce');
  await fitsAndAccessible('needs reauthorization');
  await tile.getByRole('button', { name: 'Reconnect' }).click();
  await main().getByText('Salesforce is connected.').waitFor();
  await eventually(async () => expect(await tile.textContent()).toContain('Connected'));
});

test('an API error shows its message, not a blank page', async () => {
  await page.goto(`${fx.connector.url}/#/orgs/${encodeURIComponent('bad org!')}`);
  const tile = page.getByRole('region', { name: 'Salesforce', exact: true });
  await tile.getByRole('alert').waitFor();
  expect(await tile.getByRole('alert').textContent()).toMatch(/org/i);
  await fitsAndAccessible('an API error');
});
