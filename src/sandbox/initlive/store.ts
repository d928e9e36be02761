import type { Prng } from '../demo-people';
import { ApiError, WRITABLE_FIELDS } from './model';
import type {
  ChangeType,
  FeedEntry,
  SandboxOrg,
  StaffRecord,
  StaffStatus,
  WebhookSubscription,
  WritableStaffFields,
} from './model';

/**
 * The sandbox's data: staff per organization, the change feed, webhook subscriptions. All
 * writes go through here, from the API and from the control surface alike, so every write
 * gets a version bump, a feed entry and webhook nudges exactly as the contract says.
 * Records handed out are copies; callers cannot change stored state by accident.
 */

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export interface StoreOptions {
  orgs: readonly SandboxOrg[];
  /** Epoch ms; the sandbox clock (advanced by tests to age the feed). */
  now: () => number;
  retentionMs: number;
  random: Prng;
}

export interface WriteOptions {
  /** X-Change-Origin of the write; null for a human in the InitLive UI. */
  origin: string | null;
  ifMatch?: number;
}

export interface StaffPage {
  data: StaffRecord[];
  nextCursor: string | null;
}

export interface ChangesPage {
  data: FeedEntry[];
  nextAfter: number;
  hasMore: boolean;
}

export type ChangeListener = (orgId: string, change: FeedEntry) => void;

interface OrgState {
  org: SandboxOrg;
  staff: Map<string, StaffRecord>;
  /** Staff ids in ascending order; ids grow monotonically, so new staff go at the end. */
  order: string[];
  /** Lower-cased email -> staff id. */
  emails: Map<string, string>;
  /** Ascending by seq; entries older than the retention window are dropped from the front. */
  feed: FeedEntry[];
  lastSeq: number;
  webhooks: Map<string, WebhookSubscription>;
}

export interface StoreSnapshot {
  format: 'initlive-sandbox/1';
  idCounter: number;
  /** Organizations created while running (the server re-creates them before loading data). */
  createdOrgs?: SandboxOrg[];
  orgs: Record<
    string,
    { staff: StaffRecord[]; feed: FeedEntry[]; lastSeq: number; webhooks: WebhookSubscription[] }
  >;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Structural equality that ignores object key order (customAnswers, address). */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(rb, k) && deepEqual(ra[k], rb[k]));
}

function isEmpty(value: unknown): boolean {
  if (value === null || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

/** Index of the first element of `sorted` greater than `key`. */
function upperBound<T>(
  sorted: readonly T[],
  key: (item: T) => string | number,
  value: string | number,
): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const item = sorted[mid] as T;
    if (key(item) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function encodeCursor(lastId: string): string {
  return Buffer.from(JSON.stringify({ a: lastId }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      typeof (parsed as { a?: unknown }).a === 'string'
    ) {
      return (parsed as { a: string }).a;
    }
  } catch {
    // falls through to the 400 below
  }
  throw new ApiError(400, 'invalid_request', 'The cursor is not one this API issued', {
    cursor: 'is not a cursor this API issued',
  });
}

export class InitLiveStore {
  private readonly orgs = new Map<string, OrgState>();
  private readonly listeners = new Set<ChangeListener>();
  private idCounter = 0;

  constructor(private readonly options: StoreOptions) {
    for (const org of options.orgs) this.addOrg(org);
  }

  /** A new, empty organization; its id must be unused. */
  addOrg(org: SandboxOrg): void {
    if (this.orgs.has(org.id)) throw new Error(`Duplicate sandbox organization id ${org.id}`);
    this.orgs.set(org.id, {
      org,
      staff: new Map(),
      order: [],
      emails: new Map(),
      feed: [],
      lastSeq: 0,
      webhooks: new Map(),
    });
  }

  /** Called after every change is recorded (after the write is visible to readers). */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  orgIds(): string[] {
    return [...this.orgs.keys()];
  }

  organization(orgId: string): SandboxOrg {
    return this.state(orgId).org;
  }

  getStaff(orgId: string, id: string): StaffRecord {
    return clone(this.existing(this.state(orgId), id));
  }

  allStaff(orgId: string): StaffRecord[] {
    const s = this.state(orgId);
    return s.order.map((id) => clone(s.staff.get(id) as StaffRecord));
  }

  staffCount(orgId: string): number {
    return this.state(orgId).staff.size;
  }

  /** One page in id order. The cursor names the last id served, so inserts never shift pages. */
  listStaff(
    orgId: string,
    query: { limit: number; cursor?: string; status: StaffStatus | 'all' },
  ): StaffPage {
    const s = this.state(orgId);
    const start =
      query.cursor === undefined ? 0 : upperBound(s.order, (id) => id, decodeCursor(query.cursor));
    const data: StaffRecord[] = [];
    let i = start;
    for (; i < s.order.length && data.length < query.limit; i++) {
      const staff = s.staff.get(s.order[i] as string) as StaffRecord;
      if (query.status === 'all' || staff.status === query.status) data.push(clone(staff));
    }
    let more = false;
    for (; i < s.order.length && !more; i++) {
      const staff = s.staff.get(s.order[i] as string) as StaffRecord;
      more = query.status === 'all' || staff.status === query.status;
    }
    const last = data[data.length - 1];
    return { data, nextCursor: more && last ? encodeCursor(last.id) : null };
  }

  createStaff(
    orgId: string,
    fields: WritableStaffFields,
    options: WriteOptions,
    seeded: { hoursWorked?: number; createdAt?: string; recordChange?: boolean } = {},
  ): StaffRecord {
    const s = this.state(orgId);
    this.assertEmailFree(s, fields.email, null);
    const at = seeded.createdAt ?? new Date(this.options.now()).toISOString();
    const record: StaffRecord = {
      id: this.nextId(),
      orgId,
      ...clone(fields),
      hoursWorked: seeded.hoursWorked ?? 0,
      version: 1,
      createdAt: at,
      updatedAt: at,
    };
    s.staff.set(record.id, record);
    s.order.push(record.id);
    if (record.email !== null) s.emails.set(record.email.toLowerCase(), record.id);
    if (seeded.recordChange !== false) {
      const changed = WRITABLE_FIELDS.filter((f) => !isEmpty(record[f]));
      this.record(s, 'created', record, changed, options.origin);
    }
    return clone(record);
  }

  /**
   * Applies a partial update. A patch that changes nothing keeps the version and records no
   * change. `status` moving to archived / back to active is recorded as archived / restored.
   */
  /**
   * Changes a staff member below the API (a restore, a data fix): the version and updatedAt stay
   * and the feed records nothing. Test control only.
   */
  driftStaff(orgId: string, id: string, patch: Partial<WritableStaffFields>): StaffRecord {
    const s = this.state(orgId);
    const current = this.existing(s, id);
    const next: StaffRecord = { ...current, ...clone(patch) };
    this.reindexEmail(s, current, next);
    s.staff.set(id, next);
    return clone(next);
  }

  updateStaff(
    orgId: string,
    id: string,
    patch: Partial<WritableStaffFields>,
    options: WriteOptions,
  ): StaffRecord {
    const s = this.state(orgId);
    const current = this.existing(s, id);
    this.assertVersion(current, options.ifMatch);
    const changed = WRITABLE_FIELDS.filter(
      (f) => patch[f] !== undefined && !deepEqual(patch[f], current[f]),
    );
    if (changed.length === 0) return clone(current);
    if (patch.email !== undefined && patch.email !== null) this.assertEmailFree(s, patch.email, id);
    const next: StaffRecord = {
      ...current,
      ...clone(patch),
      version: current.version + 1,
      updatedAt: new Date(this.options.now()).toISOString(),
    };
    this.reindexEmail(s, current, next);
    s.staff.set(id, next);
    let type: ChangeType = 'updated';
    if (current.status !== next.status) type = next.status === 'archived' ? 'archived' : 'restored';
    this.record(s, type, next, changed, options.origin);
    return clone(next);
  }

  deleteStaff(orgId: string, id: string, options: WriteOptions): void {
    const s = this.state(orgId);
    const current = this.existing(s, id);
    this.assertVersion(current, options.ifMatch);
    s.staff.delete(id);
    const at = upperBound(s.order, (x) => x, id) - 1;
    if (s.order[at] === id) s.order.splice(at, 1);
    if (current.email !== null) s.emails.delete(current.email.toLowerCase());
    // The version still grows: a delete is a change like any other.
    this.record(
      s,
      'deleted',
      { ...current, version: current.version + 1 },
      [],
      options.origin,
      true,
    );
  }

  /** Simulates check-ins: InitLive itself changes hoursWorked, so the origin is null. */
  setHoursWorked(orgId: string, id: string, hoursWorked: number): StaffRecord {
    if (!Number.isFinite(hoursWorked) || hoursWorked < 0) {
      throw new ApiError(400, 'invalid_request', 'hoursWorked must be a number >= 0', {
        hoursWorked: 'must be a number >= 0',
      });
    }
    const s = this.state(orgId);
    const current = this.existing(s, id);
    const rounded = Math.round(hoursWorked * 100) / 100;
    if (rounded === current.hoursWorked) return clone(current);
    const next: StaffRecord = {
      ...current,
      hoursWorked: rounded,
      version: current.version + 1,
      updatedAt: new Date(this.options.now()).toISOString(),
    };
    s.staff.set(id, next);
    this.record(s, 'updated', next, ['hoursWorked'], null);
    return clone(next);
  }

  /**
   * The feed after `after`. `after = 0` means "from the oldest retained change". An `after`
   * whose successor has been purged, or one beyond the newest seq (a feed this client never
   * saw, e.g. a sandbox restarted without its state file), is 410 cursor_expired.
   */
  readChanges(orgId: string, after: number, limit: number): ChangesPage {
    const s = this.state(orgId);
    this.purgeExpired(s);
    const oldestRetained = s.feed[0]?.seq ?? s.lastSeq + 1;
    if (after !== 0 && after < oldestRetained - 1) {
      throw new ApiError(
        410,
        'cursor_expired',
        `Changes after ${after} are no longer retained; run a full sync`,
        {
          after,
          oldestRetainedSeq: oldestRetained,
        },
      );
    }
    if (after > s.lastSeq) {
      throw new ApiError(
        410,
        'cursor_expired',
        `Seq ${after} is beyond the newest change; run a full sync`,
        {
          after,
          latestSeq: s.lastSeq,
        },
      );
    }
    const start = upperBound(s.feed, (e) => e.seq, after);
    const data = s.feed.slice(start, start + limit).map(clone);
    const last = data[data.length - 1];
    return {
      data,
      nextAfter: last ? last.seq : after,
      hasMore: start + data.length < s.feed.length,
    };
  }

  /** Drops feed entries older than `cutoffMs` (default: the retention window). */
  purgeFeed(orgId: string, cutoffMs?: number): number {
    const s = this.state(orgId);
    return this.purgeOlderThan(s, cutoffMs ?? this.options.now() - this.options.retentionMs);
  }

  feed(orgId: string): FeedEntry[] {
    const s = this.state(orgId);
    this.purgeExpired(s);
    return s.feed.map(clone);
  }

  lastSeq(orgId: string): number {
    return this.state(orgId).lastSeq;
  }

  addWebhook(orgId: string, url: string, secret: string): WebhookSubscription {
    const s = this.state(orgId);
    const id = `whk_${this.randomChars(12)}`;
    const hook = { id, url, secret };
    s.webhooks.set(id, hook);
    return { ...hook };
  }

  removeWebhook(orgId: string, id: string): void {
    if (!this.state(orgId).webhooks.delete(id)) {
      throw new ApiError(404, 'not_found', `No webhook ${id}`, { id });
    }
  }

  /** One lookup, no copies: asked before every delivery attempt. */
  hasWebhook(orgId: string, id: string): boolean {
    return this.orgs.get(orgId)?.webhooks.has(id) ?? false;
  }

  webhooks(orgId: string): WebhookSubscription[] {
    return [...this.state(orgId).webhooks.values()].map((w) => ({ ...w }));
  }

  toSnapshot(): StoreSnapshot {
    const orgs: StoreSnapshot['orgs'] = {};
    for (const [id, s] of this.orgs) {
      orgs[id] = {
        staff: s.order.map((sid) => s.staff.get(sid) as StaffRecord),
        feed: s.feed,
        lastSeq: s.lastSeq,
        webhooks: [...s.webhooks.values()],
      };
    }
    return clone({ format: 'initlive-sandbox/1', idCounter: this.idCounter, orgs });
  }

  /** Replaces the data of every configured org present in the snapshot; others are ignored. */
  loadSnapshot(snapshot: StoreSnapshot): void {
    if (snapshot.format !== 'initlive-sandbox/1') {
      throw new Error(`Unknown InitLive sandbox snapshot format: ${String(snapshot.format)}`);
    }
    this.idCounter = Math.max(this.idCounter, snapshot.idCounter);
    for (const [orgId, data] of Object.entries(snapshot.orgs)) {
      const s = this.orgs.get(orgId);
      if (!s) continue;
      s.staff = new Map(data.staff.map((st) => [st.id, clone(st)]));
      s.order = data.staff.map((st) => st.id).sort();
      s.emails = new Map(
        data.staff
          .filter((st) => st.email !== null)
          .map((st) => [(st.email as string).toLowerCase(), st.id]),
      );
      s.feed = clone(data.feed);
      s.lastSeq = data.lastSeq;
      s.webhooks = new Map(data.webhooks.map((w) => [w.id, { ...w }]));
    }
  }

  private state(orgId: string): OrgState {
    const s = this.orgs.get(orgId);
    if (!s) throw new ApiError(404, 'not_found', `No organization ${orgId}`, { orgId });
    return s;
  }

  private existing(s: OrgState, id: string): StaffRecord {
    const staff = s.staff.get(id);
    if (!staff) throw new ApiError(404, 'not_found', `No staff ${id}`, { id });
    return staff;
  }

  private assertVersion(current: StaffRecord, ifMatch: number | undefined): void {
    if (ifMatch !== undefined && ifMatch !== current.version) {
      throw new ApiError(
        412,
        'version_mismatch',
        `Staff ${current.id} is at version ${current.version}, not ${ifMatch}`,
        { id: current.id, currentVersion: current.version, ifMatch },
      );
    }
  }

  private assertEmailFree(s: OrgState, email: string | null, selfId: string | null): void {
    if (email === null) return;
    const holder = s.emails.get(email.toLowerCase());
    if (holder !== undefined && holder !== selfId) {
      throw new ApiError(409, 'duplicate_email', `Another staff member already uses ${email}`, {
        email,
        existingId: holder,
      });
    }
  }

  private reindexEmail(s: OrgState, before: StaffRecord, after: StaffRecord): void {
    if (before.email === after.email) return;
    if (before.email !== null) s.emails.delete(before.email.toLowerCase());
    if (after.email !== null) s.emails.set(after.email.toLowerCase(), after.id);
  }

  private record(
    s: OrgState,
    type: ChangeType,
    staff: StaffRecord,
    changedFields: string[],
    origin: string | null,
    deleted = false,
  ): void {
    this.purgeExpired(s);
    const entry: FeedEntry = {
      seq: ++s.lastSeq,
      type,
      staffId: staff.id,
      version: staff.version,
      changedFields,
      origin,
      occurredAt: new Date(this.options.now()).toISOString(),
      staff: deleted ? null : clone(staff),
    };
    s.feed.push(entry);
    for (const listener of this.listeners) listener(s.org.id, clone(entry));
  }

  private purgeExpired(s: OrgState): void {
    this.purgeOlderThan(s, this.options.now() - this.options.retentionMs);
  }

  private purgeOlderThan(s: OrgState, cutoffMs: number): number {
    let n = 0;
    while (n < s.feed.length && Date.parse((s.feed[n] as FeedEntry).occurredAt) < cutoffMs) n++;
    if (n > 0) s.feed.splice(0, n);
    return n;
  }

  private nextId(): string {
    let n = ++this.idCounter;
    let counter = '';
    for (let i = 0; i < 6; i++) {
      counter = CROCKFORD[n % 32] + counter;
      n = Math.floor(n / 32);
    }
    // Fixed-width counter first: ids sort in creation order, which keeps paging stable.
    return `stf_${counter}${this.randomChars(4)}`;
  }

  private randomChars(length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += CROCKFORD[Math.floor(this.options.random() * 32)];
    return out;
  }
}
