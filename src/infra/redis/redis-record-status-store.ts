import type Redis from 'ioredis';
import type { Side } from '../../core/pair-state';
import { HISTORY_LIMIT } from '../../core/record-status';
import type {
  HistoryEntry,
  LastError,
  StatusChange,
  StatusFields,
  StatusKey,
} from '../../core/record-status';
import { assertKeyParts } from '../../core/version-store';
import type {
  RecordStatus,
  RecordStatusLimits,
  RecordStatusStore,
} from '../../outcomes/record-status-store';
import { DEFAULT_STATUS_TTL_MS, statusKeySuffix } from '../../outcomes/record-status-store';
import { closeRedis, redisOp } from './connect';
import type { ScriptCall } from './lua-scripts';
import { defineScript } from './lua-scripts';

export interface RedisRecordStatusStoreDeps extends RecordStatusLimits {
  redis: Redis;
  /** Prepended to every key, e.g. "ils:". */
  keyPrefix: string;
  /** When true, close() also closes the client; leave false when the client is shared. */
  ownsClient?: boolean;
}

const letter: Record<Side, string> = { initlive: 'i', salesforce: 's' };

/** Status fields as hash fields (short names: one hash per volunteer). */
function encodeFields(f: StatusFields): string[] {
  const out: string[] = [];
  if (f.initliveId !== undefined) out.push('i', f.initliveId);
  if (f.salesforceId !== undefined) out.push('s', f.salesforceId);
  if (f.linkedBy !== undefined) out.push('lb', f.linkedBy);
  if (f.lastSyncedAt !== undefined) out.push('ls', String(f.lastSyncedAt));
  if (f.lastError !== undefined) out.push('le', JSON.stringify(f.lastError));
  for (const [side, a] of Object.entries(f.awaiting ?? {}) as Array<
    [Side, { cause: string; at: number }]
  >) {
    out.push(`aw:${letter[side]}`, a.cause, `awt:${letter[side]}`, String(a.at));
  }
  for (const [side, cause] of Object.entries(f.landed ?? {}) as Array<[Side, string]>) {
    out.push(`ld:${letter[side]}`, cause);
  }
  return out;
}

function decodeFields(h: Record<string, string>): StatusFields {
  const f: StatusFields = {};
  if (h.i) f.initliveId = h.i;
  if (h.s) f.salesforceId = h.s;
  if (h.lb) f.linkedBy = h.lb;
  if (h.ls) f.lastSyncedAt = Number(h.ls);
  if (h.le) f.lastError = JSON.parse(h.le) as LastError;
  for (const side of ['initlive', 'salesforce'] as const) {
    const cause = h[`aw:${letter[side]}`];
    if (cause) (f.awaiting ??= {})[side] = { cause, at: Number(h[`awt:${letter[side]}`] ?? 0) };
    const landed = h[`ld:${letter[side]}`];
    if (landed) (f.landed ??= {})[side] = landed;
  }
  return f;
}

/** A history entry as stored: a small JSON array, [at, event, side letter, fields, runId]. */
function encodeEntry(e: HistoryEntry): string {
  return JSON.stringify([e.at, e.event, letter[e.side], e.fields, e.runId]);
}

function decodeEntry(text: string): HistoryEntry {
  const [at, event, side, fields, runId] = JSON.parse(text) as [
    number,
    HistoryEntry['event'],
    string,
    string[],
    string | null,
  ];
  return { at, event, side: side === 'i' ? 'initlive' : 'salesforce', fields, runId };
}

/**
 * RecordStatusStore on Redis. Keys (the org in a `{...}` hash tag, so one org's keys share a slot):
 * - `<prefix>rs:{org}:s:<suffix>`  hash: the record's status fields
 * - `<prefix>rs:{org}:h:<suffix>`  list: its history, newest first, capped
 * where the suffix is `p:<pairId>`, or `i:<staff id>` / `s:<Contact Id>` for a record that never
 * joined a pair. Both expire `ttlMs` after the record's last change.
 */
export class RedisRecordStatusStore implements RecordStatusStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly historyLimit: number;
  private readonly ttlMs: number;
  private readonly applyScript: ScriptCall;
  private closed = false;

  constructor(deps: RedisRecordStatusStoreDeps) {
    this.redis = deps.redis;
    this.prefix = deps.keyPrefix;
    this.ownsClient = deps.ownsClient ?? false;
    this.historyLimit = deps.historyLimit ?? HISTORY_LIMIT;
    this.ttlMs = deps.ttlMs ?? DEFAULT_STATUS_TTL_MS;
    this.applyScript = defineScript(this.redis, 'record-status-1.lua');
  }

  private base(orgId: string): string {
    return `${this.prefix}rs:{${orgId}}:`;
  }

  async apply(orgId: string, changes: readonly StatusChange[]): Promise<void> {
    assertKeyParts({ orgId });
    if (changes.length === 0) return;
    await redisOp(
      { name: 'record status store', closed: this.closed },
      'apply',
      { orgId },
      async () => {
        const args: Array<string | number> = [this.ttlMs, this.historyLimit];
        for (const change of changes) {
          const fields = encodeFields(change.set);
          args.push(statusKeySuffix(change.key), fields.length / 2, ...fields);
          args.push(change.history.length, ...change.history.map(encodeEntry));
        }
        await this.applyScript([this.base(orgId)], args);
      },
    );
  }

  async get(orgId: string, key: StatusKey): Promise<RecordStatus | null> {
    assertKeyParts({ orgId });
    return redisOp(
      { name: 'record status store', closed: this.closed },
      'get',
      { orgId },
      async () => {
        const suffix = statusKeySuffix(key);
        const [hash, list] = await Promise.all([
          this.redis.hgetall(`${this.base(orgId)}s:${suffix}`),
          this.redis.lrange(`${this.base(orgId)}h:${suffix}`, 0, this.historyLimit - 1),
        ]);
        if (Object.keys(hash).length === 0 && list.length === 0) return null;
        return { fields: decodeFields(hash), history: list.map(decodeEntry) };
      },
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await closeRedis(this.redis);
  }
}
