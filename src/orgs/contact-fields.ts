import { performance } from 'node:perf_hooks';
import type { Connection } from 'jsforce';
import { resolveMapping } from '../core/mapping';
import { describedFields, driftIssues } from '../core/mapping-check';
import type { DescribedField, DescribedFields, MappingIssue } from '../core/mapping-check';
import type { SyncSettings } from '../core/settings';
import { toSyncError } from '../errors';
import { describeContactFields } from '../infra/salesforce/contact-describe';
import type { Logger } from '../logger';
import type { SyncEvents } from '../pipeline/events';
import type { ContactFieldWatch } from '../pipeline/field-watch';
import type { OrgChange } from './managed-org-directory';
import type { OrgRuntime } from './org-directory';

/** What the book needs of the organization directory (ManagedOrgDirectory). */
export interface FieldBookDirectory {
  get(orgId: string): OrgRuntime | undefined;
  syncSettings(orgId: string): SyncSettings;
  holdFields(orgId: string, fields: readonly string[]): void;
  on(event: 'changed', listener: (orgId: string, change: OrgChange) => void): unknown;
  off(event: 'changed', listener: (orgId: string, change: OrgChange) => void): unknown;
}

export interface ContactFieldBookDeps {
  directory: FieldBookDirectory;
  events: SyncEvents;
  logger: Logger;
  now?: () => number;
  /** Describes Contact with a connection; default: one describe call through jsforce. */
  describe?: (conn: Connection) => Promise<DescribedField[]>;
  /** While fields are held, look again this often (a field may come back). Default 60 s. */
  recheckHeldMs?: number;
  /** Change events naming unknown fields lead to at most one describe per this. Default 10 s. */
  noticeIntervalMs?: number;
  /**
   * Held fields came back (present again, of a type that holds their values): their changes
   * made meanwhile are only caught up by a full sync.
   */
  onRestored?: (orgId: string, salesforceFields: string[]) => void;
}

/** The last describe of an organization's Contact. */
export interface ContactDescribe {
  fields: DescribedFields;
  /** When the describe call started (performance.now(), for ordering) and ended (epoch ms). */
  startedAt: number;
  at: number;
}

interface OrgState {
  describe: ContactDescribe | null;
  inflight: { startedAt: number; done: Promise<void> } | null;
  problems: MappingIssue[];
  timer: NodeJS.Timeout | null;
  lastNoticeAt: number;
}

/**
 * Each organization's Contact fields as Salesforce describes them, cached, and its mapping's
 * drift: mapped fields that disappeared, changed type or became read-only. Those are held back
 * (the directory leaves them out of the sync, so the rest carries on and nothing is written,
 * dead-lettered or merged for them), reported in the status and as a metric, and looked at again
 * every `recheckHeldMs` until they are back or the mapping no longer names them. Describes happen
 * on connect, at start, when settings change, and when a write fails on a field or a change
 * event names one the last describe did not list.
 */
export class ContactFieldBook implements ContactFieldWatch {
  private readonly orgs = new Map<string, OrgState>();
  /** Orgs mapping fields beyond the built-in table, or holding some back (see watching). */
  private readonly watched = new Set<string>();
  private readonly now: () => number;
  private readonly describeWith: (conn: Connection) => Promise<DescribedField[]>;
  private readonly log: Logger;
  private stopped = false;

  constructor(private readonly deps: ContactFieldBookDeps) {
    this.now = deps.now ?? Date.now;
    this.describeWith = deps.describe ?? describeContactFields;
    this.log = deps.logger.child({ component: 'contact-fields' });
  }

  /** Starts following the directory: connects, settings changes and start-up loads describe. */
  start(): void {
    this.stopped = false;
    this.deps.directory.on('changed', this.onChanged);
  }

  stop(): void {
    this.stopped = true;
    this.deps.directory.off('changed', this.onChanged);
    for (const s of this.orgs.values()) if (s.timer) clearTimeout(s.timer);
  }

  /**
   * Contact's fields for this organization: the cached describe when it is younger than
   * `maxAgeMs` (default: any age), else a new one. Null when the organization has no usable
   * Salesforce connection. Throws the describe's SyncError.
   */
  async describe(orgId: string, maxAgeMs = Infinity): Promise<ContactDescribe | null> {
    const s = this.state(orgId);
    if (s.describe && this.now() - s.describe.at <= maxAgeMs) return s.describe;
    await this.refresh(orgId, performance.now(), 'asked', true);
    return this.state(orgId).describe;
  }

  /** Mapped fields that cannot sync right now (held back), with why. */
  problems(orgId: string): MappingIssue[] {
    return [...(this.orgs.get(orgId)?.problems ?? [])];
  }

  held(orgId: string): ReadonlySet<string> | null {
    const problems = this.orgs.get(orgId)?.problems;
    if (!problems || problems.length === 0) return null;
    return new Set(problems.map((p) => p.salesforceField.toLowerCase()));
  }

  async recheck(
    orgId: string,
    reason: string,
    since = performance.now(),
  ): Promise<ReadonlySet<string>> {
    await this.refresh(orgId, since, reason, false).catch(() => undefined);
    return this.held(orgId) ?? new Set();
  }

  watching(orgId: string): boolean {
    // Called for every change event: a cached answer, refreshed when settings or holds change.
    return this.watched.has(orgId);
  }

  noticeFields(orgId: string, fields: readonly string[]): void {
    const s = this.state(orgId);
    const known = s.describe?.fields;
    if (!known) return;
    const held = this.held(orgId);
    const news = fields.some((f) => !known.has(f.toLowerCase()) || held?.has(f.toLowerCase()));
    if (!news || this.now() - s.lastNoticeAt < (this.deps.noticeIntervalMs ?? 10_000)) return;
    s.lastNoticeAt = this.now();
    void this.recheck(orgId, 'change event names an unknown field');
  }

  private readonly onChanged = (orgId: string, change: OrgChange): void => {
    if (this.stopped || change.kind === 'mapping') return;
    this.updateWatched(orgId);
    if (change.kind === 'disconnected') {
      this.forget(orgId);
      return;
    }
    const s = this.state(orgId);
    // A settings change re-checks against the describe the save just read; a connect or a
    // start-up load reads it.
    const since =
      change.kind === 'settings' && s.describe ? s.describe.startedAt : performance.now();
    if (change.kind === 'state' && s.describe) return;
    void this.recheck(orgId, change.kind, since);
  };

  private state(orgId: string): OrgState {
    let s = this.orgs.get(orgId);
    if (!s) {
      s = { describe: null, inflight: null, problems: [], timer: null, lastNoticeAt: 0 };
      this.orgs.set(orgId, s);
    }
    return s;
  }

  private forget(orgId: string): void {
    const s = this.orgs.get(orgId);
    if (s?.timer) clearTimeout(s.timer);
    this.orgs.delete(orgId);
    this.deps.directory.holdFields(orgId, []);
    this.deps.events.emit('mapping.problems', { orgId, problems: [] });
  }

  /**
   * Brings the describe up to `since` (a performance.now() reading: reusing one that started
   * then or later) and applies it.
   * `rethrow`: a failed describe throws (callers that asked for it); else it is logged.
   */
  private async refresh(
    orgId: string,
    since: number,
    reason: string,
    rethrow: boolean,
  ): Promise<void> {
    const s = this.state(orgId);
    if (s.describe && s.describe.startedAt >= since) {
      this.apply(orgId);
      return;
    }
    if (s.inflight && s.inflight.startedAt >= since) {
      await s.inflight.done;
      if (rethrow && !s.describe) throw new Error('describe failed');
      return;
    }
    const conn = this.deps.directory.get(orgId)?.salesforce;
    if (!conn) return;
    const startedAt = performance.now();
    let failure: unknown = null;
    const done = this.describeWith(conn).then(
      (fields) => {
        s.describe = { fields: describedFields(fields), startedAt, at: this.now() };
        this.apply(orgId);
      },
      (err: unknown) => {
        failure = err;
        this.log.warn('contact describe failed', { orgId, reason, err: toSyncError(err) });
      },
    );
    s.inflight = { startedAt, done };
    try {
      await done;
    } finally {
      if (s.inflight?.done === done) s.inflight = null;
    }
    if (failure !== null && rethrow) throw toSyncError(failure);
  }

  /** Computes the mapping's drift from the cached describe and holds / releases fields. */
  private apply(orgId: string): void {
    const s = this.state(orgId);
    if (!s.describe || this.stopped) return;
    const fieldMapping = this.deps.directory.syncSettings(orgId).fieldMapping;
    const problems = driftIssues(resolveMapping(fieldMapping), s.describe.fields);
    const before = new Set(s.problems.map((p) => p.salesforceField.toLowerCase()));
    const after = new Set(problems.map((p) => p.salesforceField.toLowerCase()));
    const changed =
      before.size !== after.size ||
      [...after].some((f) => !before.has(f)) ||
      problems.some((p, i) => p.reason !== s.problems[i]?.reason);
    s.problems = problems;
    this.updateWatched(orgId);
    this.schedule(orgId);
    if (!changed) return;
    this.deps.directory.holdFields(orgId, [...after]);
    this.deps.events.emit('mapping.problems', {
      orgId,
      problems: problems.map((p) => ({ salesforceField: p.salesforceField, reason: p.reason })),
    });
    for (const p of problems) {
      if (before.has(p.salesforceField.toLowerCase())) continue;
      this.log.warn('mapped field held back; the other fields keep syncing', {
        orgId,
        field: p.field,
        salesforceField: p.salesforceField,
        reason: p.reason,
      });
    }
    const stillMapped = new Set(
      resolveMapping(fieldMapping).map((m) => m.salesforceField.toLowerCase()),
    );
    const restored = [...before].filter((f) => !after.has(f) && stillMapped.has(f));
    if (restored.length > 0) {
      this.log.info('held fields are back; syncing them again', {
        orgId,
        salesforceFields: restored,
      });
      this.deps.onRestored?.(orgId, restored);
    }
  }

  private updateWatched(orgId: string): void {
    const custom = this.deps.directory
      .syncSettings(orgId)
      .fieldMapping.some((e) => e.field.startsWith('customAnswers.') || e.salesforceField);
    const held = (this.orgs.get(orgId)?.problems.length ?? 0) > 0;
    if (custom || held) this.watched.add(orgId);
    else this.watched.delete(orgId);
  }

  /** While fields are held, looks again every `recheckHeldMs`. */
  private schedule(orgId: string): void {
    const s = this.state(orgId);
    if (s.timer) clearTimeout(s.timer);
    s.timer = null;
    if (s.problems.length === 0 || this.stopped) return;
    s.timer = setTimeout(() => {
      s.timer = null;
      void this.recheck(orgId, 'held fields');
    }, this.deps.recheckHeldMs ?? 60_000);
    s.timer.unref();
  }
}
