import { randomUUID } from 'node:crypto';
import { RecordFault } from './api-fault';
import { formatDateTime } from './dates';
import { KeyPrefix, to18 } from './ids';
import type { IdGenerator } from './ids';
import type { ContactRecord, ContactWriteEvent, WriteApi, WriteListener } from './model';
import { ContactSchema } from './schema';
import type { FieldDef } from './schema';
import { validateChanges } from './validation';
import type { FieldValues } from './validation';

/** Who is writing: becomes the event's changeOrigin and commitUser. */
export interface WriteContext {
  api: WriteApi;
  apiVersion: string;
  client: string | null;
  userId: string;
}

/** Fields that never count as "changed" in an event: derived or bookkeeping-only. */
const NOT_TRACKED = new Set(['Id', 'IsDeleted', 'SystemModstamp', 'Name']);

type PendingEvent = Omit<
  ContactWriteEvent,
  'transactionKey' | 'sequenceNumber' | 'commitTimestamp'
>;

export interface StoreSnapshot {
  version: 1;
  ids: Record<string, number>;
  packageInstalled: boolean;
  records: ContactRecord[];
}

/** The value a field holds on a record that was never given one. */
export function emptyValue(f: FieldDef): string | number | boolean | null {
  return f.defaultValue ?? null;
}

/**
 * The org's Contact table with its unique indexes and recycle bin (soft-deleted rows keep
 * `IsDeleted = true`). All writes go through a {@link Transaction}; listeners hear about
 * them only once it commits, with one transaction key per commit.
 */
export class ContactStore {
  readonly schema: ContactSchema;
  private records = new Map<string, ContactRecord>();
  /** unique field -> lower-cased value -> id of the live record holding it (case-insensitive). */
  private unique = new Map<string, Map<string, string>>();
  private listeners = new Set<WriteListener>();
  /** Records written (created, updated, deleted, undeleted) since start. */
  writesCount = 0;

  /** `packageFields`: the installed package's Contact fields; null: no package. */
  constructor(
    readonly ids: IdGenerator,
    readonly now: () => number,
    packageFields: readonly FieldDef[] | null = null,
  ) {
    this.schema = new ContactSchema(packageFields);
    this.rebuildIndexes();
  }

  /** A copy of the record (deleted ones included), or undefined. Accepts 15/18-char ids. */
  get(id: string): ContactRecord | undefined {
    const full = to18(id);
    const r = full ? this.records.get(full) : undefined;
    return r ? { ...r } : undefined;
  }

  /** Every record, deleted ones included, in creation order. Records are shared: do not mutate. */
  rows(): Iterable<ContactRecord> {
    return this.records.values();
  }

  size(): number {
    return this.records.size;
  }

  /** Live record ids whose unique/external id field equals `value` (case-insensitive). */
  findByExternalId(field: string, value: string): string[] {
    const idx = this.unique.get(field);
    if (idx) {
      const id = idx.get(value.toLowerCase());
      return id ? [id] : [];
    }
    const out: string[] = [];
    for (const r of this.records.values()) {
      if (
        !r.IsDeleted &&
        typeof r[field] === 'string' &&
        r[field].toLowerCase() === value.toLowerCase()
      )
        out.push(r.Id as string);
    }
    return out;
  }

  onWrite(listener: WriteListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  begin(ctx: WriteContext): Transaction {
    return new Transaction(this, ctx);
  }

  /**
   * Changes values below the API, as a database restore or a data fix would: LastModifiedDate
   * and SystemModstamp stay, no change event, no write counted. Test control only.
   */
  drift(id: string, values: Record<string, unknown>): void {
    const r = this.records.get(id);
    if (!r) throw new Error(`no record ${id}`);
    Object.assign(r, values);
    this.rebuildIndexes();
  }

  /**
   * Installs (a field list) or uninstalls (null) the package's fields. Uninstalling drops their
   * data, as uninstalling a package does; installing adds them empty on every record.
   */
  setPackageFields(fields: readonly FieldDef[] | null): void {
    const before = this.schema.fields().filter((f) => f.packaged);
    this.schema.setPackageFields(fields);
    const after = this.schema.fields().filter((f) => f.packaged);
    const kept = new Set(after.map((f) => f.name));
    for (const r of this.records.values()) {
      for (const f of before) if (!kept.has(f.name)) delete r[f.name];
      for (const f of after) if (!(f.name in r)) r[f.name] = emptyValue(f);
    }
    this.rebuildIndexes();
  }

  /** A new custom field (Tooling API): empty (or its default) on every record. */
  addField(field: FieldDef): void {
    this.schema.putCustomField(field);
    for (const r of this.records.values())
      if (!(field.name in r)) r[field.name] = emptyValue(field);
    this.rebuildIndexes();
  }

  /** Deletes a custom field and its data. */
  removeField(name: string): void {
    const f = this.schema.field(name);
    if (!f) return;
    this.schema.removeCustomField(f.name);
    for (const r of this.records.values()) delete r[f.name];
    this.rebuildIndexes();
  }

  snapshot(): StoreSnapshot {
    return {
      version: 1,
      ids: this.ids.state(),
      packageInstalled: this.schema.packageInstalled,
      records: [...this.records.values()].map((r) => ({ ...r })),
    };
  }

  /** Restores the records; the schema (package, custom fields) is the setup's to restore first. */
  restore(snap: StoreSnapshot): void {
    this.ids.restore(snap.ids);
    this.records = new Map(snap.records.map((r) => [String(r.Id), { ...r }]));
    this.rebuildIndexes();
  }

  /** @internal used by Transaction */
  put(id: string, record: ContactRecord | undefined): void {
    const old = this.records.get(id);
    if (old) this.unindex(old);
    if (record) {
      this.records.set(id, record);
      this.index(record);
    } else {
      this.records.delete(id);
    }
  }

  /** @internal */
  raw(id: string): ContactRecord | undefined {
    return this.records.get(id);
  }

  /** @internal */
  holderOf(field: string, value: string): string | undefined {
    return this.unique.get(field)?.get(value.toLowerCase());
  }

  /** @internal */
  publish(events: ContactWriteEvent[]): void {
    if (events.length === 0) return;
    this.writesCount += events.length;
    for (const l of this.listeners) {
      try {
        l(events);
      } catch {
        // A listener's failure must not undo a committed write.
      }
    }
  }

  private index(r: ContactRecord): void {
    if (r.IsDeleted) return;
    for (const [field, idx] of this.unique) {
      const v = r[field];
      if (typeof v === 'string') idx.set(v.toLowerCase(), r.Id as string);
    }
  }

  private unindex(r: ContactRecord): void {
    for (const [field, idx] of this.unique) {
      const v = r[field];
      if (typeof v === 'string' && idx.get(v.toLowerCase()) === r.Id) idx.delete(v.toLowerCase());
    }
  }

  private rebuildIndexes(): void {
    this.unique = new Map(
      this.schema
        .fields()
        .filter((f) => f.unique)
        .map((f) => [f.name, new Map()]),
    );
    for (const r of this.records.values()) this.index(r);
  }
}

/**
 * One API call's writes. Each operation validates before it touches anything, so a failed
 * operation leaves no trace; `rollback()` undoes the successful ones (allOrNone), `commit()`
 * publishes their events with one transaction key.
 */
export class Transaction {
  private undo = new Map<string, ContactRecord | undefined>();
  private pending: PendingEvent[] = [];
  private done = false;

  constructor(
    private readonly store: ContactStore,
    private readonly ctx: WriteContext,
  ) {}

  /** Creates a record; returns its id. Throws RecordFault on validation failures. */
  insert(values: FieldValues): string {
    const { schema } = this.store;
    const clean = validateChanges(values, 'insert', schema, null);
    this.checkUnique(clean, null);
    const id = this.store.ids.next(KeyPrefix.contact);
    const ts = formatDateTime(this.store.now());
    const record: ContactRecord = {};
    for (const f of schema.fields()) record[f.name] = emptyValue(f);
    Object.assign(record, clean, {
      Id: id,
      IsDeleted: false,
      OwnerId: clean.OwnerId ?? this.ctx.userId,
      CreatedDate: ts,
      CreatedById: this.ctx.userId,
      LastModifiedDate: ts,
      LastModifiedById: this.ctx.userId,
      SystemModstamp: ts,
    });
    record.Name = fullName(record);
    this.write(id, record);
    const changed = Object.keys(record).filter((k) => !NOT_TRACKED.has(k) && record[k] !== null);
    this.event('CREATE', id, null, record, changed);
    return id;
  }

  /** Updates a live record. Throws RecordFault NOT_FOUND / ENTITY_IS_DELETED / validation. */
  update(id: string, values: FieldValues): void {
    const before = this.live(id);
    const clean = validateChanges(values, 'update', this.store.schema, before);
    this.checkUnique(clean, id);
    const ts = formatDateTime(this.store.now());
    const after: ContactRecord = {
      ...before,
      ...clean,
      LastModifiedDate: ts,
      LastModifiedById: this.ctx.userId,
      SystemModstamp: ts,
    };
    after.Name = fullName(after);
    this.write(id, after);
    const changed = Object.keys(after).filter(
      (k) => !NOT_TRACKED.has(k) && k !== 'LastModifiedDate' && after[k] !== before[k],
    );
    changed.push('LastModifiedDate');
    this.event('UPDATE', id, before, after, changed);
  }

  /** Soft-deletes a live record into the recycle bin. */
  remove(id: string): void {
    const before = this.live(id);
    const ts = formatDateTime(this.store.now());
    const after: ContactRecord = {
      ...before,
      IsDeleted: true,
      LastModifiedDate: ts,
      LastModifiedById: this.ctx.userId,
      SystemModstamp: ts,
    };
    this.write(id, after);
    this.event('DELETE', id, before, null, []);
  }

  /** Restores a record from the recycle bin; fails if its unique values were taken meanwhile. */
  undelete(id: string): void {
    const before = this.store.raw(id);
    if (!before) throw new RecordFault('NOT_FOUND', 'The requested resource does not exist');
    if (!before.IsDeleted)
      throw new RecordFault('UNDELETE_FAILED', 'Entity is not in the recycle bin');
    const restored: FieldValues = {};
    for (const f of this.store.schema.fields())
      if (f.unique) restored[f.name] = before[f.name] ?? null;
    this.checkUnique(restored, id);
    const ts = formatDateTime(this.store.now());
    const after: ContactRecord = {
      ...before,
      IsDeleted: false,
      LastModifiedDate: ts,
      LastModifiedById: this.ctx.userId,
      SystemModstamp: ts,
    };
    this.write(id, after);
    this.event('UNDELETE', id, { ...before }, after, []);
  }

  /** The live record (copy) or a RecordFault as Salesforce reports it. */
  live(id: string): ContactRecord {
    const r = this.store.raw(id);
    if (!r) throw new RecordFault('NOT_FOUND', 'The requested resource does not exist', []);
    if (r.IsDeleted) throw new RecordFault('ENTITY_IS_DELETED', 'entity is deleted', []);
    return { ...r };
  }

  rollback(): void {
    for (const [id, original] of this.undo) this.store.put(id, original);
    this.undo.clear();
    this.pending = [];
    this.done = true;
  }

  /**
   * Publishes the events of this transaction (one transaction key) and returns them. `silent`
   * commits without telling listeners, as a database-level change does: Salesforce then only
   * sends a GAP event for the records.
   */
  commit(options: { silent?: boolean } = {}): ContactWriteEvent[] {
    if (this.done) return [];
    this.done = true;
    const transactionKey = randomUUID();
    const commitTimestamp = this.store.now();
    const events = this.pending.map((e, i) => ({
      ...e,
      transactionKey,
      sequenceNumber: i + 1,
      commitTimestamp,
    }));
    this.pending = [];
    if (options.silent) this.store.writesCount += events.length;
    else this.store.publish(events);
    return events;
  }

  private checkUnique(values: FieldValues, selfId: string | null): void {
    for (const f of this.store.schema.fields()) {
      if (!f.unique) continue;
      const v = values[f.name];
      if (typeof v !== 'string') continue;
      const holder = this.store.holderOf(f.name, v);
      if (holder && holder !== selfId) {
        throw new RecordFault(
          'DUPLICATE_VALUE',
          `duplicate value found: ${f.name} duplicates value on record with id: ${holder}`,
          [],
        );
      }
    }
  }

  private write(id: string, record: ContactRecord): void {
    if (!this.undo.has(id)) {
      const original = this.store.raw(id);
      this.undo.set(id, original ? { ...original } : undefined);
    }
    this.store.put(id, record);
  }

  private event(
    changeType: ContactWriteEvent['changeType'],
    recordId: string,
    before: ContactRecord | null,
    after: ContactRecord | null,
    changedFields: string[],
  ): void {
    this.pending.push({
      changeType,
      recordId,
      before: before ? { ...before } : null,
      after: after ? { ...after } : null,
      changedFields,
      api: this.ctx.api,
      apiVersion: this.ctx.apiVersion,
      client: this.ctx.client,
      userId: this.ctx.userId,
    });
  }
}

function fullName(r: ContactRecord): string {
  return [r.FirstName, r.LastName].filter((v) => typeof v === 'string' && v !== '').join(' ');
}
