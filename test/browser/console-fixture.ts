import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { startConnector } from '../../src/app';
import type { Connector } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';

/** Debian's Chromium, as .ci/run installs it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Chromium's flags on this closed network: without the background-networking ones its own
 * connections are refused and it stalls; headless with no GPU; a fresh profile per launch.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ConsoleFixture {
  connector: Connector;
  context: BrowserContext;
  page: Page;
  /** Lines the connector logged (JSON). */
  logs: string[];
  /** Console messages and page errors the browser reported (CSP violations among them). */
  browserProblems: string[];
  close(): Promise<void>;
}

/**
 * `npm start`'s embedded default, in-process on free ports (in-memory transport and stores,
 * both sandboxes, org_demo connected), and a headless Chromium with a new empty profile.
 */
export async function startConsoleFixture(
  options: { viewport?: { width: number; height: number } } = {},
): Promise<ConsoleFixture> {
  const logs: string[] = [];
  const connector = await startConnector(
    loadConfig({
      PORT: '0',
      SANDBOX_SALESFORCE_PORT: '0',
      SANDBOX_INITLIVE_PORT: '0',
      LOG_LEVEL: 'debug',
    }),
    createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    {
      print: () => undefined,
      pipeline: { initliveSource: { pollIntervalMs: 200 }, salesforceSink: { lingerMs: 20 } },
    },
  );
  const profile = mkdtempSync(join(tmpdir(), 'console-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: options.viewport ?? { width: 1280, height: 900 },
      locale: 'en-CA',
      timezoneId: 'America/Vancouver',
    });
  } catch (err) {
    await connector.stop();
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const browserProblems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') browserProblems.push(msg.text());
  });
  page.on('pageerror', (err) => browserProblems.push(err.message));
  return {
    connector,
    context,
    page,
    logs,
    browserProblems,
    close: async () => {
      await context.close().catch(() => undefined);
      await connector.stop();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
