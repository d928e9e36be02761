/// <reference lib="dom" />
// Functions passed to page.evaluate run in the browser: DOM types for them.
import { existsSync } from 'node:fs';
import type { Locator, Page, Response } from 'playwright-core';
import { eventually } from '../fixtures/e2e';
import { seriousA11yProblems } from './axe';
import { CHROMIUM, startConsoleFixture } from './console-fixture';
import type { ConsoleFixture } from './console-fixture';

/**
 * The admin console in a real Chromium against `npm start`'s embedded default: everything the
 * seed article has an administrator do, by the labels a person sees, with an axe-core check on
 * each view, no CSP violation and no secret in any page or API answer.
 */

const ORG = 'org_demo';
jest.setTimeout(120_000);

if (!existsSync(CHROMIUM)) {
  throw new Error(
    `${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium), as .ci/run does`,
  );
}

/** A JSON answer: the assertions below are what check its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let fx: ConsoleFixture;

/**
 * The page's content. Notices are looked up here: the same words also go to the live region
 * for screen readers (after a short delay), which must not make a lookup ambiguous.
 */
const main = () => page.locator('#main');
let page: Page;
const apiBodies: string[] = [];

/** The API as the tests' own client, with the admin bearer token (not the browser's session). */
async function api(path: string, init: RequestInit = {}): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${fx.connector.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${fx.connector.token}`, ...(init.headers ?? {}) },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function expectAccessible(view: string): Promise<void> {
  const problems = await seriousA11yProblems(page);
  expect({ view, problems }).toEqual({ view, problems: [] });
}

/** Presses Tab until the element named `name` has focus: it is reachable by keyboard. */
async function tabTo(name: string | RegExp, limit = 60): Promise<void> {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el) return '';
      const labelled = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null;
      return (labelled ?? el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
    });
    if (typeof name === 'string' ? focused === name : name.test(focused)) return;
  }
  throw new Error(`${String(name)} was not reached with Tab`);
}

beforeAll(async () => {
  fx = await startConsoleFixture();
  page = fx.page;
  page.on('response', (res: Response) => {
    if (new URL(res.url()).pathname.startsWith('/api/'))
      void res.text().then(
        (t) => apiBodies.push(t),
        () => undefined,
      );
  });
});

afterAll(async () => {
  await fx?.close();
});

test('sign in: a wrong token gets a clear message; the right one opens a session cookie the page cannot read', async () => {
  await page.goto(`${fx.connector.url}/`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await expectAccessible('sign-in');

  // Keyboard only: the token field has focus; type, Enter.
  await page.keyboard.type('not-the-token');
  await page.keyboard.press('Enter');
  await main().getByText('That token is not right.').waitFor();
  expect(await page.getByLabel('Admin token').getAttribute('aria-invalid')).toBe('true');
  await expectAccessible('sign-in with an error');

  await page.getByLabel('Admin token').fill(fx.connector.token);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Organizations' }).waitFor();
  expect(page.url()).not.toContain(fx.connector.token);
  const cookies = await fx.context.cookies(fx.connector.url);
  expect(cookies).toEqual([
    expect.objectContaining({ name: 'ils_session', httpOnly: true, sameSite: 'Strict', path: '/' }),
  ]);
  expect(cookies[0]!.value).not.toContain(fx.connector.token);
  expect(await page.evaluate(() => document.cookie)).toBe('');
  await containsSoon(page.getByRole('listitem').filter({ hasText: ORG }), 'Connected');
  await expectAccessible('organizations');
});

test('the Salesforce tile shows the state, the last run, the lag per source and the API budget', async () => {
  await page.getByRole('link', { name: ORG }).click();
  const tile = page.getByRole('region', { name: 'Salesforce', exact: true });
  await tile.waitFor();
  await containsSoon(tile, 'Connected');
  await containsSoon(tile, 'Succeeded');
  await containsSoon(tile.getByRole('region', { name: 'Lag per source' }), 'InitLive');
  const budget = tile.getByRole('meter', { name: 'Salesforce API budget' });
  await budget.waitFor();
  const status = (await api(`/api/orgs/${ORG}/salesforce`)).body;
  expect(Number(await budget.getAttribute('max'))).toBe(status.apiBudget.max);
  await tile.getByRole('link', { name: 'Edit Settings' }).waitFor();
  await tile.getByRole('button', { name: 'Disconnect' }).waitFor();
  await expectAccessible('integrations');
});

test('Edit Settings: two-way with Salesforce as the default system is saved, and the API says so', async () => {
  // By keyboard: Tab to Edit Settings, Enter.
  await tabTo('Edit Settings');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Salesforce Integration Settings' }).waitFor();
  for (const help of [
    'A change in InitLive updates Salesforce; a change in Salesforce does not update InitLive.',
    'A change in Salesforce updates InitLive; a change in InitLive does not update Salesforce.',
    'the default system wins when both change before a sync',
  ])
    await main().getByText(help).waitFor();
  await page.getByRole('group', { name: 'Default system' }).waitFor({ state: 'hidden' });
  await expectAccessible('settings');

  await page.getByLabel('InitLive ⇄ Salesforce (two-way)').check();
  const defaultSystem = page.getByRole('group', { name: 'Default system' });
  await defaultSystem.waitFor();
  await defaultSystem.getByLabel('Salesforce').check();
  await page.getByRole('button', { name: 'Save' }).click();
  await main().getByText('Settings saved.').waitFor();

  const settings = (await api(`/api/orgs/${ORG}/salesforce/settings`)).body;
  expect(settings).toMatchObject({
    direction: 'two_way',
    defaultSystem: 'salesforce',
    schedule: { mode: 'manual' },
  });
});

test('a bad frequency shows the API’s error next to the field, and nothing is saved', async () => {
  await page.getByRole('switch', { name: 'Automatic Syncing' }).check();
  await page.getByLabel('Every X minutes').check();
  await page.getByLabel('Minutes between syncs').fill('2');
  await page.getByRole('button', { name: 'Save' }).click();
  const minutes = page.getByLabel('Minutes between syncs');
  await attributeSoon(minutes, 'aria-invalid', 'true');
  const errorId = (await minutes.getAttribute('aria-describedby'))!
    .split(' ')
    .find((id) => id.startsWith('error-'))!;
  expect(await page.locator(`#${errorId}`).textContent()).toBe(
    'Minutes between syncs must be at least 5',
  );
  // The error sits right after the field it names, and focus went to the field.
  expect(
    await page.evaluate((id) => document.getElementById(id)?.previousElementSibling?.id, errorId),
  ).toBe('every-minutes');
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('every-minutes');
  await main().getByText('The settings were not saved.').waitFor();
  await expectAccessible('settings with errors');
  expect((await api(`/api/orgs/${ORG}/salesforce/settings`)).body.schedule).toEqual({
    mode: 'manual',
  });

  // Corrected, it saves; then back to manual for the runs below.
  await minutes.fill('30');
  await page.getByRole('button', { name: 'Save' }).click();
  await main().getByText('Settings saved.').waitFor();
  expect((await api(`/api/orgs/${ORG}/salesforce/settings`)).body.schedule).toEqual({
    mode: 'interval',
    everyMinutes: 30,
  });
  await page.getByRole('switch', { name: 'Automatic Syncing' }).uncheck();
  await page.getByRole('button', { name: 'Save' }).click();
  await main().getByText('Settings saved.').waitFor();
  expect((await api(`/api/orgs/${ORG}/salesforce/settings`)).body.schedule).toEqual({
    mode: 'manual',
  });
});

test('Sync now shows a live progress bar, says a second press finds a run in progress, then the outcome with counts per side', async () => {
  // Slow Salesforce down so the run lasts long enough to be watched.
  const sf = fx.connector.sandboxes!.salesforce.control;
  sf.setLatencyMs(400);
  try {
    await page.getByRole('button', { name: 'Sync now' }).click();
    const progress = page.getByRole('progressbar', { name: 'Sync progress' });
    await progress.waitFor();
    await page.getByRole('heading', { name: /^Sync in progress/ }).waitFor();
    await eventually(async () =>
      expect((await page.locator('#run-phase').textContent())?.trim()).toBeTruthy(),
    );
    await expectAccessible('sync in progress');

    await page.getByRole('button', { name: 'Sync now' }).click();
    await main().getByText('A run is in progress.').waitFor();
  } finally {
    sf.setLatencyMs(0);
  }
  await page.getByRole('heading', { name: /^Sync finished/ }).waitFor({ timeout: 60_000 });
  const counts = page.getByRole('table', { name: 'Records per side' });
  await counts.waitFor();
  const runs = (await api(`/api/orgs/${ORG}/salesforce/runs?limit=1`)).body.runs;
  const run = runs[0];
  expect(run.status).toMatch(/succeeded/);
  const readRow = counts.getByRole('row', { name: /^Read/ });
  await containsSoon(readRow, String(run.counts.read.initlive));
  await containsSoon(readRow, String(run.counts.read.salesforce));
  // The history lists the run and the chart draws it.
  await countSoon(page.locator('#run-history tbody tr'), 2);
  await page.getByRole('img', { name: /Records synced per run/ }).waitFor();
  await expectAccessible('sync finished');
});

test('the errors list shows why a volunteer could not be synced; Retry sends one back', async () => {
  const il = fx.connector.sandboxes!.initlive.control;
  const long = 'X'.repeat(41);
  const a = il.createStaff({
    firstName: long,
    lastName: 'Toolong',
    email: 'too.long.a@example.org',
  });
  const b = il.createStaff({
    firstName: long,
    lastName: 'Toolong',
    email: 'too.long.b@example.org',
  });
  await waitUntil(
    async () => (await api(`/api/orgs/${ORG}/salesforce/errors`)).body.total >= 2,
  ).catch((err) => {
    process.stderr.write(fx.logs.slice(-40).join('\n'));
    throw err;
  });

  await page.getByRole('link', { name: 'Errors' }).click();
  await page.getByRole('heading', { name: 'Errors' }).waitFor();
  const list = page.locator('#errors-list');
  await countSoon(list.getByRole('listitem'), 2);
  await containsSoon(list, 'STRING_TOO_LONG');
  await containsSoon(list, `InitLive ${a.id}`);
  await containsSoon(list, `InitLive ${b.id}`);
  await expectAccessible('errors');

  const before = (await api(`/api/orgs/${ORG}/salesforce/errors`)).body.items;
  const first = list.getByRole('listitem').first();
  const firstId = before[0].id;
  await first.getByRole('button', { name: 'Retry' }).click();
  await main().getByText('Sent back for retry (attempt 2).').waitFor();
  // The record is still too long for Salesforce: it fails again and its letter (one per record
  // and cause, so the same id) comes back, attempt 2.
  await waitUntil(async () => {
    const items = (await api(`/api/orgs/${ORG}/salesforce/errors`)).body.items;
    return items.some((i: Json) => i.id === firstId && i.attempts === 2);
  });
  await countSoon(list.getByRole('listitem').filter({ hasText: 'Attempts2' }), 1);
  await countSoon(list.getByRole('listitem'), 2);

  // Dismiss one: it leaves the list and the API.
  const dismissedId = (await api(`/api/orgs/${ORG}/salesforce/errors`)).body.items[0].id;
  await list.getByRole('listitem').first().getByRole('button', { name: 'Dismiss' }).click();
  await main().getByText('Dismissed.').waitFor();
  await countSoon(list.getByRole('listitem'), 1);
  const left = (await api(`/api/orgs/${ORG}/salesforce/errors`)).body.items;
  expect(left.map((i: Json) => i.id)).not.toContain(dismissedId);

  // Dismiss all asks first, then empties the list.
  await page.getByRole('button', { name: 'Dismiss all' }).click();
  const confirm = page.getByRole('dialog', { name: 'Dismiss the 1 error?' });
  await confirm.getByRole('button', { name: 'Dismiss all' }).click();
  await page.getByRole('heading', { name: 'No errors' }).waitFor();
  expect((await api(`/api/orgs/${ORG}/salesforce/errors`)).body.total).toBe(0);
});

test('a volunteer lookup by id or email shows the record’s status and history', async () => {
  const staff = fx.connector.sandboxes!.initlive.control.listStaff()[0]!;
  const known = await api(`/api/orgs/${ORG}/salesforce/records?initliveId=${staff.id}`);
  expect(known.status).toBe(200);
  await page.getByRole('link', { name: 'Volunteer lookup' }).click();
  await page.getByRole('heading', { name: 'Volunteer lookup' }).waitFor();
  await page.getByLabel('Email or id').fill(staff.id);
  await page.getByRole('button', { name: 'Look up' }).click();
  const result = page.locator('#lookup-result');
  await result.getByRole('heading', { name: 'History' }).waitFor();
  await containsSoon(result, staff.id);
  await containsSoon(result, known.body.salesforceId);
  await containsSoon(result, 'In sync');
  expect(await result.locator('table tbody tr').count()).toBe(known.body.history.length);
  await expectAccessible('volunteer lookup');

  // By email: the same record.
  await page.getByLabel('Email or id').fill(staff.email!);
  await page.getByRole('button', { name: 'Look up' }).click();
  await containsSoon(result, 'Found byemail');
  await containsSoon(result, staff.id);

  // Someone neither system has.
  await page.getByLabel('Email or id').fill('nobody.here@example.org');
  await page.getByRole('button', { name: 'Look up' }).click();
  await main()
    .getByText('Neither InitLive nor Salesforce has a volunteer with that email')
    .waitFor();
});

test('Disconnect asks first; Connect then goes through the sandbox’s OAuth page and back to connected', async () => {
  await page.getByRole('link', { name: 'Integrations' }).click();
  const tile = page.getByRole('region', { name: 'Salesforce', exact: true });
  await containsSoon(tile, 'Connected');

  await tile.getByRole('button', { name: 'Disconnect' }).click();
  const dialog = page.getByRole('dialog', { name: 'Disconnect Salesforce?' });
  await dialog.waitFor();
  await dialog.getByText('does not uninstall the InitLive package').waitFor();
  await expectAccessible('disconnect dialog');
  // Cancel keeps the connection.
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  expect((await api(`/api/orgs/${ORG}/salesforce`)).body.connection).toBe('connected');

  await tile.getByRole('button', { name: 'Disconnect' }).click();
  await dialog.getByRole('button', { name: 'Disconnect' }).click();
  await main().getByText('Salesforce is disconnected.').waitFor();
  await containsSoon(tile, 'Not connected');
  expect((await api(`/api/orgs/${ORG}/salesforce`)).body.connection).toBe('disconnected');
  await expectAccessible('disconnected');

  const sandboxOrigin = new URL(fx.connector.sandboxes!.salesforce.loginUrl).origin;
  const visited: string[] = [];
  page.on('request', (req) => {
    if (req.isNavigationRequest()) visited.push(req.url());
  });
  await tile.getByRole('button', { name: 'Connect' }).click();
  await main().getByText('Salesforce is connected.').waitFor();
  expect(visited.some((u) => u.startsWith(`${sandboxOrigin}/services/oauth2/authorize`))).toBe(
    true,
  );
  expect(visited.some((u) => u.includes('/oauth/salesforce/callback'))).toBe(true);
  expect(new URL(page.url()).hash).toBe(`#/orgs/${ORG}`);
  await containsSoon(tile, 'Connected');
  expect((await api(`/api/orgs/${ORG}/salesforce`)).body).toMatchObject({
    connection: 'connected',
    flow: 'web_server',
  });
});

test('sign out ends the session: the old cookie opens nothing any more', async () => {
  const [cookie] = await fx.context.cookies(fx.connector.url);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await main().getByText('You are signed out.').waitFor();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  expect(await fx.context.cookies(fx.connector.url)).toEqual([]);
  const res = await fetch(`${fx.connector.url}/api/session`, {
    headers: { cookie: `ils_session=${cookie!.value}` },
  });
  expect(res.status).toBe(401);
});

test('no secret reached the pages or the API answers, and the CSP held', async () => {
  const conn = fx.connector.directory.connection(ORG)!;
  const secrets = [
    fx.connector.token,
    conn.salesforce!.accessToken,
    conn.salesforce!.refreshToken,
    conn.initlive?.apiKey,
    'sandbox-secret',
  ].filter((s): s is string => typeof s === 'string' && s.length > 0);
  const everything = apiBodies.join('\n') + (await page.content());
  for (const s of secrets) expect(everything).not.toContain(s);
  const logged = fx.logs.join('\n');
  expect(logged).not.toContain(fx.connector.token);
  // API answers the tests asked for (401, 400, 409, 404) are logged by Chromium as failed
  // loads; anything else (a CSP violation, a script error) is a defect.
  const problems = fx.browserProblems.filter(
    (p) => !/^Failed to load resource: the server responded with a status of 4\d\d/.test(p),
  );
  expect(problems).toEqual([]);
});

async function containsSoon(locator: Locator, text: string): Promise<void> {
  await eventually(async () => expect(await locator.textContent()).toContain(text));
}

async function countSoon(locator: Locator, n: number): Promise<void> {
  await eventually(async () => expect(await locator.count()).toBe(n));
}

async function attributeSoon(locator: Locator, name: string, value: string): Promise<void> {
  await eventually(async () => expect(await locator.getAttribute(name)).toBe(value));
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
