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
