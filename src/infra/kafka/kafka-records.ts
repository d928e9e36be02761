import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { ConsumedRecord } from '../../core/transport';

function headerValue(v: IHeaders[string]): string | undefined {
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined) return undefined;
  return Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
}

/** Shared by every record without headers (most): a sink may hold tens of thousands. */
const NO_HEADERS: Record<string, string> = Object.freeze({});

export function toConsumedRecord(
  topic: string,
  partition: number,
  m: KafkaMessage,
): ConsumedRecord {
  let headers = NO_HEADERS;
  for (const [name, raw] of Object.entries(m.headers ?? {})) {
    const value = headerValue(raw);
    if (value === undefined) continue;
    if (headers === NO_HEADERS) headers = {};
    headers[name] = value;
  }
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ? m.key.toString('utf8') : '',
    value: m.value ?? Buffer.alloc(0),
    headers,
    timestamp: Number(m.timestamp),
  };
}
