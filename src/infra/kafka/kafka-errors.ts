import { SyncError, isSyncError } from '../../errors';

interface KafkaJsLikeError {
  name?: unknown;
  type?: unknown;
  retriable?: unknown;
  cause?: unknown;
}

function rootCause(err: unknown): unknown {
  let current = err;
  for (let depth = 0; depth < 10; depth++) {
    const cause = (current as KafkaJsLikeError | null)?.cause;
    if (cause === undefined || cause === null) return current;
    current = cause;
  }
  return current;
}

/** The broker's error type (`UNKNOWN_TOPIC_OR_PARTITION`, ...) at the bottom of a kafkajs error chain. */
export function rootErrorType(err: unknown): string | undefined {
  const type = (rootCause(err) as KafkaJsLikeError | null)?.type;
  return typeof type === 'string' ? type : undefined;
}

/**
 * Wraps a kafkajs failure as TRANSPORT_UNAVAILABLE with the original as cause. It is retriable
 * unless the broker said the request can never succeed (a protocol error kafkajs marks
 * non-retriable, such as an authorization failure or an invalid partition count); kafkajs has
 * already retried the transient ones by the time an error reaches us, but the broker may be
 * back by our next attempt. Non-kafkajs errors (bugs) are left as they are.
 */
export function toTransportError(
  err: unknown,
  action: string,
  context: Record<string, unknown> = {},
): unknown {
  if (isSyncError(err)) return err;
  const name = (err as KafkaJsLikeError | null)?.name;
  if (typeof name !== 'string' || !name.startsWith('KafkaJS')) return err;
  const root = rootCause(err) as KafkaJsLikeError | null;
  const permanent = root?.name === 'KafkaJSProtocolError' && root.retriable === false;
  const message = err instanceof Error ? err.message : String(err);
  return new SyncError('TRANSPORT_UNAVAILABLE', `Kafka ${action} failed: ${message}`, {
    cause: err,
    retriable: !permanent,
    context: {
      ...context,
      kafkaError: name,
      ...(typeof root?.type === 'string' ? { kafkaErrorType: root.type } : {}),
    },
  });
}
