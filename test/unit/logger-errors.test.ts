import { logLevel } from 'kafkajs';
import { SyncError, isSyncError, toSyncError } from '../../src/errors';
import { kafkaLogCreator } from '../../src/infra/kafka/kafka-logger';
import { createLogger } from '../../src/logger';

describe('logger', () => {
  const capture = () => {
    const lines: string[] = [];
    return { lines, logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }) };
  };

  it('writes one JSON object per line with level, message and fields', () => {
    const { lines, logger } = capture();
    logger.child({ orgId: 'org_demo' }).info('synced', { count: 3 });
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'info',
      msg: 'synced',
      orgId: 'org_demo',
      count: 3,
    });
  });

  it('never prints secrets, under secret keys or registered anywhere in text', () => {
    const { lines, logger } = capture();
    const token = '00Dxx0000001gPL!AQ4AQFake.Access.Token.Value';
    logger.redact(token);
    logger.info(`calling with ${token}`, {
      accessToken: 'abc',
      refresh_token: 'def',
      nested: { clientSecret: 'ghi', headers: { authorization: 'Bearer zzzzzzzzzzzz' } },
      note: `header was OAuth ${'q'.repeat(20)}`,
    });
    const line = lines.join('\n');
    for (const secret of [token, 'abc', 'def', 'ghi', 'zzzzzzzzzzzz', 'q'.repeat(20)]) {
      expect(line).not.toContain(secret);
    }
    expect(line).toContain('[redacted]');
  });

  it('respects the level', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', write: (l) => lines.push(l) });
    logger.info('hidden');
    logger.warn('shown');
    expect(lines).toHaveLength(1);
  });
});

describe('errors', () => {
  it('carries a stable code, retriable flag and context', () => {
    const err = new SyncError('RATE_LIMITED', 'slow down', { context: { retryAfterMs: 1000 } });
    expect(err).toMatchObject({ code: 'RATE_LIMITED', retriable: true, httpStatus: 429 });
    expect(err.toJSON()).toEqual({
      code: 'RATE_LIMITED',
      message: 'slow down',
      retriable: true,
      context: { retryAfterMs: 1000 },
    });
  });

  it('recognises SyncErrors by shape, not instanceof, and wraps anything else as INTERNAL', () => {
    const foreign = Object.assign(new Error('from another registry'), {
      name: 'SyncError',
      code: 'NOT_FOUND',
    });
    expect(isSyncError(foreign)).toBe(true);
    expect(toSyncError(new TypeError('boom'))).toMatchObject({
      code: 'INTERNAL',
      retriable: false,
    });
    expect(isSyncError({ name: 'SyncError', code: 'MADE_UP' })).toBe(false);
  });
});

describe('kafkajs log lines', () => {
  const route = (namespace: string, level: logLevel, message: string, error?: string) => {
    const lines: string[] = [];
    const log = kafkaLogCreator(createLogger({ level: 'debug', write: (l) => lines.push(l) }))(
      logLevel.DEBUG,
    );
    log({
      namespace,
      level,
      label: 'x',
      log: { message, timestamp: 'now', logger: 'kafkajs', ...(error ? { error } : {}) },
    });
    return JSON.parse(lines[0]!) as { level: string; msg: string; component: string };
  };

  it('keeps a rebalance out of the error log: the coordinator answer is debug, the rejoin info', () => {
    const rebalancing = 'The group is rebalancing, so a rejoin is needed';
    expect(route('Connection', logLevel.ERROR, 'Response Heartbeat', rebalancing).level).toBe(
      'debug',
    );
    expect(
      route('Runner', logLevel.WARN, 'The group is rebalancing, re-joining', rebalancing),
    ).toMatchObject({ level: 'info', component: 'kafkajs' });
  });

  it('keeps other kafkajs errors at error', () => {
    expect(
      route(
        'Connection',
        logLevel.ERROR,
        'Response Produce',
        'The server experienced an unexpected error',
      ).level,
    ).toBe('error');
    expect(route('Producer', logLevel.ERROR, 'Failed to send messages').level).toBe('error');
  });
});
