import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { startConsoleFixture } from '../test/browser/console-fixture';

/**
 * `npm run screenshots`: the README's pictures of the admin console (the tile, the settings
 * page, a finished run, the errors list), taken from the embedded default in Debian's Chromium,
 * so they show the console as it is. Written to docs/screenshots/.
 */

const OUT = join(__dirname, '..', 'docs', 'screenshots');
const ORG = 'org_demo';

async function shoot(page: Page, target: Locator, name: string): Promise<void> {
  await target.scrollIntoViewIfNeeded();
  const path = join(OUT, `${name}.png`);
  await target.screenshot({ path, animations: 'disabled', caret: 'hide' });
  process.stdout.write(`${path} (${Math.round(statSync(path).size / 1024)} KB)\n`);
  void page;
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const fx = await startConsoleFixture({ viewport: { width: 1100, height: 900 } });
  const { page, connector } = fx;
  try {
    const il = connector.sandboxes!.initlive.control;
    await page.goto(`${connector.url}/`);
    await page.getByLabel('Admin token').fill(connector.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: ORG }).click();

    // A run with something to do: with streaming off, a few volunteers change and join in
    // InitLive, then Sync now carries them to Salesforce.
    await page.getByRole('link', { name: 'Edit Settings' }).click();
    await page.getByRole('switch', { name: 'Streaming' }).uncheck();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Settings saved.').first().waitFor();
    for (const staff of il.listStaff().slice(0, 3))
      il.updateStaff(staff.id, { phone: '+1 604 555 0142' });
    il.createStaff({ firstName: 'Amara', lastName: 'Osei', email: 'amara.osei@example.org' });
    il.createStaff({
      firstName: 'Lucas',
      lastName: 'Ferreira',
      email: 'lucas.ferreira@example.org',
    });
    await page.getByRole('button', { name: 'Sync now' }).click();
    await page.getByRole('heading', { name: /^Sync finished/ }).waitFor({ timeout: 60_000 });
    await shoot(page, page.getByRole('region', { name: 'Sync now' }), 'console-run');

    // The settings as an administrator would set them for two-way syncing.
    await page.getByLabel('InitLive ⇄ Salesforce (two-way)').check();
    await page.getByRole('group', { name: 'Default system' }).getByLabel('Salesforce').check();
    await page.getByRole('switch', { name: 'Automatic Syncing' }).check();
    await page.getByLabel('Every day at a specific time').check();
    await page.getByLabel('Time of day').fill('02:30');
    await page.getByRole('switch', { name: 'Streaming' }).check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Settings saved.').first().waitFor();
    await shoot(page, page.locator('#settings-form'), 'console-settings');

    // Two volunteers Salesforce refuses (a first name over its 40 characters): the errors list.
    il.createStaff({
      firstName: 'Maximiliana-Josephine-Alexandrina-Wilhelmina',
      lastName: 'Okonkwo',
      email: 'm.okonkwo@example.org',
    });
    il.createStaff({
      firstName: 'Bartholomew-Christopher-Montgomery-Fitzgerald',
      lastName: 'Nakamura',
      email: 'b.nakamura@example.org',
    });

    await page.getByRole('link', { name: 'Integrations', exact: true }).click();
    const tile = page.getByRole('region', { name: 'Salesforce', exact: true });
    await tile.getByText('2 records need attention').waitFor({ timeout: 30_000 });
    await shoot(page, tile, 'console-tile');

    await page.getByRole('link', { name: 'Errors', exact: true }).click();
    await page.locator('#errors-list li').nth(1).waitFor();
    await shoot(page, page.locator('main'), 'console-errors');
  } finally {
    await fx.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`screenshots failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
