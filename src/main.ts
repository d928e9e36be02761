import { startConnector } from './app';
import type { Connector } from './app';
import { loadConfig } from './config';
import { isSyncError, toSyncError } from './errors';
import { createLogger } from './logger';
import type { Logger } from './logger';

/**
 * The composition root, what `npm start` runs: the only place that reads process.env. It
 * parses the configuration, starts the connector (src/app.ts) and turns signals into a clean
 * shutdown.
 *
 * - A bad configuration prints every bad variable by name to stderr and exits 1.
 * - SIGINT / SIGTERM: stop (flush, commit, close), exit 0. A second signal forces exit 1.
 */

/** Signals closer together than this are one Ctrl-C (npm forwards the terminal's to us too). */
const SAME_SIGNAL_MS = 1_000;
/** A shutdown that hangs longer than this is cut short. */
const SHUTDOWN_LIMIT_MS = 30_000;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/**
 * Installs the SIGINT / SIGTERM handlers before anything starts, so a Ctrl-C during start-up
 * also ends in a clean stop (once the connector is up) rather than Node's default kill.
 */
function handleSignals(logger: Logger): { started(connector: Connector): void } {
  let connector: Connector | null = null;
  let firstAt: number | null = null;
  const stop = (c: Connector): void => {
    const limit = setTimeout(() => {
      process.stderr.write(`shutdown took over ${SHUTDOWN_LIMIT_MS / 1000} s; exiting\n`);
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    limit.unref();
    c.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { err: toSyncError(err) });
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    const now = Date.now();
    if (firstAt !== null) {
      if (now - firstAt < SAME_SIGNAL_MS) return;
      process.stderr.write(`${signal} again: exiting without a clean shutdown\n`);
      process.exit(1);
    }
    firstAt = now;
    process.stderr.write(`${signal}: shutting down (again to force)\n`);
    if (connector) stop(connector);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    started(c) {
      connector = c;
      if (firstAt !== null) stop(c);
    },
  };
}

async function main(): Promise<void> {
  const startedAt = Date.now() - Math.round(process.uptime() * 1000);
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (isSyncError(err) && err.code === 'CONFIG_INVALID') fail(err.message);
    throw err;
  }
  const logger = createLogger({ level: config.LOG_LEVEL });
  const signals = handleSignals(logger);
  let connector: Connector;
  try {
    connector = await startConnector(config, logger, { startedAt });
  } catch (err) {
    const e = toSyncError(err);
    if (e.code === 'CONFIG_INVALID') fail(`Invalid configuration:\n  ${e.message}`);
    logger.error('connector failed to start', { err: e });
    fail(`The connector failed to start: ${e.code}: ${e.message}`);
  }
  signals.started(connector);
}

main().catch((err: unknown) => {
  fail(`The connector failed: ${toSyncError(err).message}`);
});
