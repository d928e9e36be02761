import { logLevel } from 'kafkajs';
import type { logCreator } from 'kafkajs';
import type { Logger, LogLevel } from '../../logger';

/** The kafkajs level that lets through `level` and everything more severe. */
export function toKafkaLogLevel(level: LogLevel): logLevel {
  switch (level) {
    case 'debug':
      return logLevel.DEBUG;
    case 'info':
      return logLevel.INFO;
    case 'warn':
      return logLevel.WARN;
    case 'error':
      return logLevel.ERROR;
    case 'silent':
      return logLevel.NOTHING;
  }
}

/**
 * Answers the group coordinator gives while members come and go. kafkajs's connection logs each
 * at error and its runner then rejoins, as the protocol expects: for an operator they are the
 * rebalance itself, not a failure.
 */
const GROUP_COORDINATION =
  /group is rebalancing|coordinator is (?:loading|not available)|not the correct coordinator|generation id is not valid|not aware of this member/i;

function isGroupCoordination(namespace: string, fields: Record<string, unknown>): boolean {
  return (
    (namespace === 'Connection' || namespace === 'Runner') &&
    typeof fields.error === 'string' &&
    GROUP_COORDINATION.test(fields.error)
  );
}

/**
 * Routes kafkajs's own log lines into the project logger, so they are JSON lines with the same
 * redaction as everything else. kafkajs filters by the level given to `new Kafka({ logLevel })`
 * before this is called; warn and up is the useful default (info is chatty on every rebalance).
 */
export function kafkaLogCreator(logger: Logger): logCreator {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _timestamp, logger: _logger, ...rest } = log;
      const fields: Record<string, unknown> = { namespace, ...rest };
      const text = String(message);
      if (isGroupCoordination(namespace, fields)) {
        // The connection's answer is detail; the runner's rejoin is the event.
        if (namespace === 'Runner') kafkaLogger.info(text, fields);
        else kafkaLogger.debug(text, fields);
        return;
      }
      switch (level) {
        case logLevel.ERROR:
          kafkaLogger.error(text, fields);
          break;
        case logLevel.WARN:
          kafkaLogger.warn(text, fields);
          break;
        case logLevel.INFO:
          kafkaLogger.info(text, fields);
          break;
        default:
          kafkaLogger.debug(text, fields);
      }
    };
}
