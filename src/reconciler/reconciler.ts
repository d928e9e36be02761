import { randomUUID } from 'node:crypto';
import { forEachLimit } from '../concurrency';
import { normalizeEmail, type EmailIndex } from '../core/email-index';
import type { CanonicalValues } from '../core/mapping';
import { outcomeSide, positionDecisionId, snapshotDecisionId } from '../core/outcomes';
import { otherSide, type PairState, type Side } from '../core/pair-state';
import { decide, type ObservedChange, type ReconcileDecision } from '../core/reconcile';
import type {
  InitLiveStaffChange,
  InitLiveWrite,
  OutcomeItem,
  SalesforceContactChange,
  SalesforceWrite,
} from '../core/records';
import { recordKey } from '../core/topics';
import type { ConsumedRecord, RecordBatch, Subscription } from '../core/transport';
import { updatePair, type Decision, type StoredPair } from '../core/version-store';
import { SyncError, isSyncError, toSyncError } from '../errors';
import { contactIdsByExternalId, createSalesforceApi } from '../infra/salesforce/salesforce-api';
import type { OrgRuntime } from '../orgs/org-directory';
import { produce, type PipelineDeps } from '../pipeline/deps';
import { sendToDeadLetters } from '../pipeline/dead-letters';
import { OutcomeBatch, outcomeItem } from '../pipeline/outcomes';
import { contactSnapshotOf } from '../batch/snapshots';
import { idKey, rereadContacts } from '../source-salesforce/reread';
import { observeInitLive, observeSalesforce } from './observe';
import { initliveWriteOf, salesforceWriteOf } from './writes';

/** How long to wait for the state of a pair another process just claimed: 40 x 25 ms. */
const CLAIMED_PAIR_WAITS = 40;
const CLAIMED_PAIR_WAIT_MS = 25;

/**
 * Distinct records of a batch decided at once. Each decision is a few store round trips, and
 * the Redis client sends the commands issued in one tick as one socket write: with 16 at a time
 * a full sync's connector spent more CPU in those writes than in deciding. The 50,000-per-side
 * full-sync benchmark went from 54-61 s at 16 to 49-54 s at 64 and about 47 s at 256.
 */
const DEFAULT_CONCURRENCY = 256;

export interface ReconcilerDeps extends PipelineDeps {
  emailIndex: EmailIndex;
}

export interface ReconcilerOptions {
  /** Records handed to one batch; per-key order is kept, distinct keys run concurrently. */
  maxBatchSize?: number;
  /** Distinct records reconciled at once within a batch. Default 256. */
  concurrency?: number;
}

/** One conflict as recorded: which field, both values, who won. */
export interface ConflictRecord {
  orgId: string;
  pairId: string;
  field: string;
  initlive: unknown;
  salesforce: unknown;
  winner: Side;
  at: number;
}

interface Outputs {
  salesforce: Array<{ key: string; value: SalesforceWrite }>;
  initlive: Array<{ key: string; value: InitLiveWrite }>;
  outcomes: OutcomeBatch;
}

/** A change as decoded, with what its outcome needs to know about where it came from. */
interface Received {
  change: InitLiveStaffChange | SalesforceContactChange;
  observed: ObservedChange;
  /** The decision's outcome id (see src/core/outcomes.ts). */
  decisionId: string;
}

/**
 * A full sync reads each record once, so its snapshots (and the deletes it finds) are named by
 * the record; anything else by its place in the topic. Either way a redelivery keeps the id.
 */
function decisionIdOf(
  side: Side,
  change: InitLiveStaffChange | SalesforceContactChange,
  record: ConsumedRecord,
): string {
  const recordId =
    side === 'initlive' ? (change as InitLiveStaffChange).initliveId : change.salesforceId!;
  const fromRun = change.runId !== null && change.sourcePosition.startsWith('snapshot:');
  if (fromRun && change.operation === 'SNAPSHOT') return snapshotDecisionId(side, recordId);
  if (fromRun && change.operation === 'DELETE') return snapshotDecisionId(side, recordId, true);
  return positionDecisionId(side === 'initlive' ? 'i' : 'c', record.partition, record.offset);
}

/**
 * Consumes both change topics and decides, per linked pair, what to write where.
 *
 * For each change: find its pair (stored link, then the external id, then a unique email
 * match; several matches are reported, never guessed; none starts a new pair), decide with the
 * pure `decide()` and apply the decision with one compare-and-apply on the pair's version
 * vector (re-deciding if another process won the race). Write commands of a batch are
 * produced together, and the batch's offsets are committed only after they are acknowledged,
 * so a crash at any point replays changes, which the version vectors make harmless.
 */
export class Reconciler {
  private subscription: Subscription | null = null;
  private readonly conflictLog: ConflictRecord[] = [];

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly options: ReconcilerOptions = {},
  ) {}

  async start(): Promise<void> {
    if (this.subscription) return;
    this.subscription = await this.deps.transport.subscribe({
      groupId: `${this.deps.groupPrefix}.reconciler`,
      topics: [this.deps.topics.staffChanges, this.deps.topics.contactChanges],
      fromBeginning: true,
      maxBatchSize: this.options.maxBatchSize ?? 500,
      handleBatch: (batch) => this.handleBatch(batch),
    });
    await this.subscription.ready();
  }

  async stop(): Promise<void> {
    const sub = this.subscription;
    this.subscription = null;
    await sub?.stop();
  }

  /** Conflicts resolved recently (newest last), for the admin API. */
  recentConflicts(orgId: string): ConflictRecord[] {
    return this.conflictLog.filter((c) => c.orgId === orgId);
  }

  async handleBatch(batch: RecordBatch): Promise<void> {
    const outputs: Outputs = { salesforce: [], initlive: [], outcomes: new OutcomeBatch() };
    // Records of one key stay in order; different keys are independent pairs.
    const byKey = new Map<string, ConsumedRecord[]>();
    for (const r of batch.records) {
      const list = byKey.get(r.key);
      if (list) list.push(r);
      else byKey.set(r.key, [r]);
    }
    const groups = [...byKey.values()];
    await forEachLimit(groups, this.options.concurrency ?? DEFAULT_CONCURRENCY, async (group) => {
      for (const record of group) await this.handleRecord(record, outputs);
    });
    // Outcomes first: whoever counts a run's writes must meet each decision before its writes.
    await outputs.outcomes.produce(this.deps);
    await Promise.all([
      produce(this.deps, 'salesforceWrites', outputs.salesforce),
      produce(this.deps, 'initliveWrites', outputs.initlive),
    ]);
  }

  private async handleRecord(record: ConsumedRecord, outputs: Outputs): Promise<void> {
    const side: Side = record.topic === this.deps.topics.staffChanges ? 'initlive' : 'salesforce';
    const recordType = side === 'initlive' ? 'InitLiveStaffChange' : 'SalesforceContactChange';
    let orgId: string | null = null;
    let received: Received | null = null;
    try {
      const change =
        side === 'initlive'
          ? await this.deps.codec.decode('InitLiveStaffChange', record.value)
          : await this.deps.codec.decode('SalesforceContactChange', record.value);
      orgId = change.orgId;
      const org = await this.deps.orgs.resolve(change.orgId);
      const observed =
        side === 'initlive'
          ? observeInitLive(change as InitLiveStaffChange, org?.initliveOrigin ?? '')
          : observeSalesforce(change as SalesforceContactChange, org?.salesforceClientTag ?? '');
      received = { change, observed, decisionId: decisionIdOf(side, change, record) };
      if (!org) {
        throw new SyncError(
          'NOT_FOUND',
          `organization ${change.orgId} is not connected to this deployment`,
        );
      }
      await this.reconcile(org, received, outputs);
    } catch (err) {
      // Transient trouble (store, registry) must not turn into a dead letter: let the batch
      // fail and be redelivered. One org's used-up API allocation (a Contact read) is no
      // passing trouble: redelivering would hold every org's changes in the partition for up
      // to a day, so that change goes to the dead letters with its reason (retried from there).
      const ownLimit = isSyncError(err) && err.code === 'API_LIMIT_EXCEEDED' && orgId !== null;
      if (isSyncError(err) && err.retriable && !ownLimit) throw err;
      const letter = await sendToDeadLetters(this.deps, {
        orgId,
        original: record,
        recordType,
        error: err,
        attempts: 1,
      });
      if (orgId !== null && received) {
        outputs.outcomes.add(orgId, this.failedOutcome(received, err, letter.id, record));
      }
    }
  }

  /** The outcome of a change that could not be decided (it went to the dead letters). */
  private failedOutcome(
    { change, observed, decisionId }: Received,
    err: unknown,
    deadLetterId: string,
    record: ConsumedRecord,
  ): OutcomeItem {
    const e = toSyncError(err);
    const pairId = typeof e.context.pairId === 'string' ? e.context.pairId : null;
    const upstream = e.context.upstreamCode;
    return outcomeItem({
      id: decisionId,
      stage: 'DECIDED',
      pairId,
      runId: change.runId,
      side: outcomeSide(observed.side),
      operation: change.operation,
      result: 'FAILED',
      decision: e.code === 'SALESFORCE_REJECTED' ? 'rejected' : 'failed',
      initliveId: observed.side === 'initlive' ? observed.recordId : observed.otherId,
      salesforceId: observed.side === 'salesforce' ? observed.recordId : observed.otherId,
      fields: changedFieldsOf(observed),
      errorCode: e.code,
      upstreamCode: typeof upstream === 'string' ? upstream : null,
      message: e.message,
      deadLetterId,
      observedAt: change.observedAt,
      at: Math.max(this.deps.now(), record.timestamp),
    });
  }

  private async reconcile(org: OrgRuntime, received: Received, outputs: Outputs): Promise<void> {
    const change = received.observed;
    if (change.op === 'delete' && !change.otherId) {
      const named = await this.nameDeletedCounterpart(org, change);
      if (named) return this.reconcile(org, { ...received, observed: named }, outputs);
    }
    const now = this.deps.now();
    // How the pair was found, for the record's status: by a unique email, or by the id the
    // change names (a Contact's external id, or an email match a full sync made).
    let foundBy: 'link' | 'email' | 'new' = 'new';
    let decision: ReconcileDecision | null = null;
    let before: PairState | null = null;
    let pairId = '';
    // The email the index already holds for this pair (claimed while finding it).
    let claimed: string | null = null;
    // A claim for a pair that ends up never stored would stay in the index as a phantom that
    // later records of the same person wait on and may join: give it back.
    const giveBackClaim = async (): Promise<void> => {
      if (claimed === null) return;
      const email = claimed;
      claimed = null;
      await this.deps.emailIndex.update(org.orgId, pairId, { add: [], remove: [email] });
    };
    for (let attempt = 1; ; attempt++) {
      let fresh: boolean;
      ({ pairId, claimed, fresh, foundBy } = await this.findPair(org.orgId, change));
      let taken = false;
      try {
        const decidePair = (current: StoredPair | null): Decision<true> | null => {
          before = current?.state ?? null;
          // The pair chosen by email was still being written by another process; now it holds
          // another record on this side, so it is not ours to join.
          const held = before
            ? change.side === 'initlive'
              ? before.initliveId
              : before.salesforceId
            : null;
          taken = held !== null && held !== change.recordId;
          if (taken) return null;
          decision = decide(before, change, org.settings, { orgId: org.orgId, pairId, now });
          if (decision.next === before || decision.outcome === 'rejected') return null;
          // Nothing learnt about a pair nobody stored: store nothing.
          if (before === null && (decision.outcome === 'incomplete' || decision.outcome === 'echo'))
            return null;
          return { next: decision.next, result: true };
        };
        // A pair id generated just now names no stored pair: no need to read it first.
        const outcome = await updatePair(this.deps.store, org.orgId, pairId, decidePair, {
          knownAbsent: fresh,
        });
        if (outcome.rev === null) await giveBackClaim();
        if (taken && attempt < 5) continue;
        // Still taken: the record names a counterpart (a Contact's external id) that is linked
        // to another record on this side. Retrying cannot settle it; a person must.
        if (taken) {
          throw new SyncError(
            'AMBIGUOUS_MATCH',
            `this ${change.side === 'salesforce' ? 'Contact' : 'staff member'} names ${change.otherId ?? 'a record'}, which is linked to another record; link one by hand, the connector does not guess`,
            { context: { pairId } },
          );
        }
        break;
      } catch (err) {
        // Another process linked this record to a pair of its own in the meantime: find that
        // pair and decide again there.
        const linkTaken =
          isSyncError(err) && err.code === 'CONFLICT' && err.context.reason === 'link-owned';
        // Best effort: a store that just failed may fail this too, and the error to report is
        // the first one.
        await giveBackClaim().catch(() => undefined);
        if (linkTaken && attempt < 3) continue;
        throw err;
      }
    }
    const d = decision as ReconcileDecision | null;
    if (!d) return;
    // Part of a Contact no pair knows: read it whole and decide that instead.
    if (d.outcome === 'incomplete' && !change.full) {
      const whole = await this.readWholeContact(org, change);
      if (whole) return this.reconcile(org, { ...received, observed: whole }, outputs);
    }
    const stateBefore = before as PairState | null;
    this.deps.logger.debug('decided', {
      orgId: org.orgId,
      pairId,
      side: change.side,
      recordId: change.recordId,
      op: change.op,
      foundBy,
      runId: change.runId ?? null,
      outcome: d.outcome,
      // Field names and record metadata only, never values: enough to replay a decision.
      writes: d.writes.map((w) => `${w.side}:${w.op}:${Object.keys(w.values).join(',')}`),
      fields: change.changed ?? null,
      stored: stateBefore !== null,
      hadBase: stateBefore?.base != null,
      resync: change.writeRejected === true,
      modifiedAt: change.modifiedAt ?? null,
      otherModifiedAt: d.next.merge?.modified?.[otherSide(change.side)] ?? null,
    });
    // Writes a redelivered change sends again were decided (and counted) the first time.
    this.deps.events.emit('reconcile.outcome', {
      orgId: org.orgId,
      side: change.side,
      outcome: d.outcome,
      runId: change.runId ?? null,
      writes: d.outcome === 'duplicate' ? [] : d.writes.map((w) => w.side),
    });
    if (d.outcome === 'rejected') {
      const first = d.problems[0];
      throw new SyncError(
        'SALESFORCE_REJECTED',
        `record would be refused by Salesforce: ${d.problems.map((p) => p.message).join('; ')}`,
        {
          context: {
            upstreamCode: first?.code,
            fields: d.problems.map((p) => p.field),
            // A pair decided for the first time is not stored when refused: the record's status
            // then belongs to the record itself.
            ...(stateBefore ? { pairId } : {}),
          },
        },
      );
    }
    // A redelivered change may carry writes to send again; nothing else changes then.
    if (d.next !== before) await this.updateEmailIndex(before, d.next, claimed);
    for (const c of d.conflicts) {
      const entry: ConflictRecord = {
        orgId: org.orgId,
        pairId,
        field: c.field,
        initlive: c.initlive,
        salesforce: c.salesforce,
        winner: c.winner,
        at: now,
      };
      this.conflictLog.push(entry);
      if (this.conflictLog.length > 1000) this.conflictLog.shift();
      this.deps.events.emit('reconcile.conflict', entry);
      this.deps.logger.info('conflict resolved', {
        orgId: org.orgId,
        pairId,
        field: c.field,
        winner: c.winner,
      });
    }
    const wasLinked = Boolean(stateBefore?.initliveId && stateBefore.salesforceId);
    const linked = Boolean(d.next.initliveId && d.next.salesforceId);
    const { change: raw, decisionId } = received;
    outputs.outcomes.add(
      org.orgId,
      outcomeItem({
        id: decisionId,
        stage: 'DECIDED',
        pairId,
        runId: change.runId ?? null,
        side: outcomeSide(change.side),
        operation: raw.operation,
        result: d.writes.length > 0 ? 'DECIDED' : 'UNCHANGED',
        decision: d.outcome,
        initliveId: d.next.initliveId,
        salesforceId: d.next.salesforceId,
        fields: d.drifted ?? changedFieldsOf(change),
        conflicts: d.conflicts.map((c) => c.field),
        writesTo: d.writes.map((w) => outcomeSide(w.side)),
        linkedBy:
          linked && !wasLinked
            ? foundBy === 'email' || raw.matchedBy === 'email'
              ? 'email'
              : 'external_id'
            : null,
        observedAt: raw.observedAt,
        at: now,
      }),
    );
    const causedBy = `${change.side}:${change.position ?? `snapshot@${change.version}`}`;
    for (const w of d.writes) {
      const runId = change.runId ?? null;
      if (w.side === 'salesforce') {
        outputs.salesforce.push({
          key: recordKey(org.orgId, pairId),
          value: salesforceWriteOf(w, d.next, org.settings, causedBy, now, runId, decisionId),
        });
      } else {
        outputs.initlive.push({
          key: recordKey(org.orgId, pairId),
          value: initliveWriteOf(w, d.next, causedBy, now, runId, decisionId),
        });
      }
    }
  }

  /**
   * A deletion names only the deleted record. When no pair knows it (the store lost its links
   * and the repair run has not linked it yet), one query still finds its counterpart: a deleted
   * Contact, read from the recycle bin, carries its volunteer's id; a deleted volunteer's Contact
   * carries theirs. Null when a pair knows the record, or nothing says.
   */
  private async nameDeletedCounterpart(
    org: OrgRuntime,
    change: ObservedChange,
  ): Promise<ObservedChange | null> {
    if (!org.salesforce) return null;
    if (await this.deps.store.findPairId(org.orgId, change.side, change.recordId)) return null;
    const { mapping } = org.settings;
    const field = mapping.find((m) => m.field === 'initliveId')?.salesforceField;
    if (!field) return null;
    let otherId: unknown = null;
    if (change.side === 'salesforce') {
      const rows = await rereadContacts(org.salesforce, [change.recordId], mapping);
      otherId = rows.get(idKey(change.recordId))?.[field];
    } else {
      const api = createSalesforceApi(org.salesforce);
      const found = await contactIdsByExternalId(api, [change.recordId], field, 1);
      const ids = found.get(change.recordId.toLowerCase()) ?? [];
      if (ids.length === 1) otherId = ids[0];
    }
    return typeof otherId === 'string' && otherId !== '' ? { ...change, otherId } : null;
  }

  /**
   * The Contact a partial CDC update names, read now with every mapped field (one query), as
   * the same change carrying all of it; null when it is gone or Salesforce is not connected.
   */
  private async readWholeContact(
    org: OrgRuntime,
    change: ObservedChange,
  ): Promise<ObservedChange | null> {
    if (change.side !== 'salesforce' || !org.salesforce) return null;
    const { mapping } = org.settings;
    const rows = await rereadContacts(org.salesforce, [change.recordId], mapping);
    const row = rows.get(idKey(change.recordId));
    // A Contact deleted since is read from the recycle bin: it holds the edit its deletion
    // followed, which the volunteer gets before the deletion's own event archives them.
    if (!row) return null;
    const read = contactSnapshotOf(
      org.orgId,
      change.runId ?? 'stream',
      { ...row, Id: change.recordId },
      mapping,
      this.deps.now(),
    );
    const whole = observeSalesforce(read, org.salesforceClientTag);
    const base = { ...change, full: true, values: whole.values, otherId: whole.otherId };
    // A read modified after the event holds later changes too, whose events name other fields:
    // it is decided as a snapshot, every field it holds flowing.
    if (whole.version > change.version) return base;
    // Only what the event changed flows; the rest of the Contact says who it is.
    return { ...base, changed: Object.keys(change.values) as ObservedChange['changed'] };
  }

  /**
   * The pair a change belongs to: the stored link, then the other side's id the change names
   * (a Contact's InitLive external id), then exactly one unlinked pair whose other side has the
   * same email. Several candidates are an AMBIGUOUS_MATCH naming them; none starts a new pair.
   */
  private async findPair(
    orgId: string,
    change: ObservedChange,
  ): Promise<{
    pairId: string;
    claimed: string | null;
    fresh: boolean;
    foundBy: 'link' | 'email' | 'new';
  }> {
    const { store } = this.deps;
    const linked = await store.findPairId(orgId, change.side, change.recordId);
    if (linked) return { pairId: linked, claimed: null, fresh: false, foundBy: 'link' };
    if (change.otherId) {
      const byExternalId = await store.findPairId(orgId, otherSide(change.side), change.otherId);
      if (byExternalId)
        return { pairId: byExternalId, claimed: null, fresh: false, foundBy: 'link' };
    }
    const email = typeof change.values.email === 'string' ? change.values.email : null;
    if (!email || change.op === 'delete')
      return { pairId: `pair_${randomUUID()}`, claimed: null, fresh: true, foundBy: 'new' };
    // Claim the email for a new pair; the claim answers who held it before in the same round
    // trip. Most people are met once from one side, and then that is the only email-index call
    // (a full sync of 50,000 records makes 50,000 fewer round trips than find-then-claim).
    // Someone held it (the same person met from the other side, perhaps a moment ago by
    // another process): give the claim back and join theirs.
    const pairId = `pair_${randomUUID()}`;
    const before = await this.deps.emailIndex.claim(orgId, email, pairId);
    if (before.length === 0) {
      return { pairId, claimed: normalizeEmail(email), fresh: true, foundBy: 'new' };
    }
    await this.deps.emailIndex.update(orgId, pairId, { add: [], remove: [email] });
    const joined = await this.openPairFor(orgId, change, email, before);
    return joined
      ? { pairId: joined, claimed: null, fresh: false, foundBy: 'email' }
      : { pairId: `pair_${randomUUID()}`, claimed: null, fresh: true, foundBy: 'new' };
  }

  /**
   * The one pair among `candidateIds` still open to a record from this side: not yet linked on
   * it (or not yet written at all, when another process only just claimed it). Several are an
   * AMBIGUOUS_MATCH naming them; the connector does not guess.
   */
  private async openPairFor(
    orgId: string,
    change: ObservedChange,
    email: string,
    candidateIds: string[],
  ): Promise<string | null> {
    if (candidateIds.length === 0) return null;
    const own = change.side === 'initlive' ? 'initliveId' : 'salesforceId';
    const other = own === 'initliveId' ? 'salesforceId' : 'initliveId';
    let pairs = await this.deps.store.getMany(orgId, candidateIds);
    // A pair another process has only just claimed is not written yet. Joining it now would
    // decide without its record (and create a second one on the other side), so wait briefly
    // for its state; a claimer that died leaves it empty, and then it is joined as it is.
    for (let i = 0; i < CLAIMED_PAIR_WAITS && pairs.some((p) => p === null); i++) {
      await new Promise((resolve) => setTimeout(resolve, CLAIMED_PAIR_WAIT_MS));
      pairs = await this.deps.store.getMany(orgId, candidateIds);
    }
    if (pairs.some((p) => p === null)) {
      // A claim given back meanwhile (its claimer found the person already held) is no pair.
      const held = new Set(await this.deps.emailIndex.find(orgId, email));
      const kept = candidateIds
        .map((id, i) => [id, pairs[i]] as const)
        .filter(([id]) => held.has(id));
      candidateIds = kept.map(([id]) => id);
      pairs = kept.map(([, p]) => p ?? null);
      if (candidateIds.length === 0) return null;
    }
    const open = candidateIds.filter((id, i) => {
      const p = pairs[i];
      return !p || (p.state[own] === null && p.state.status !== 'deleted');
    });
    if (open.length === 1) return open[0]!;
    if (open.length === 0) return null;
    const names = open.map((id) => pairs[candidateIds.indexOf(id)]?.state[other] ?? id);
    // The message names ids, not the email: it goes to logs and record status.
    throw new SyncError(
      'AMBIGUOUS_MATCH',
      `the email matches ${open.length} ${otherSide(change.side) === 'salesforce' ? 'Salesforce Contacts' : 'InitLive staff members'} (${names.join(', ')}); link one by hand, the connector does not guess`,
      { context: { candidates: names } },
    );
  }

  private async updateEmailIndex(
    before: PairState | null,
    after: PairState,
    claimed: string | null,
  ): Promise<void> {
    const emails = (s: PairState | null): Set<string> => {
      const out = new Set<string>();
      for (const values of [s?.merge?.current.initlive, s?.merge?.current.salesforce] as Array<
        CanonicalValues | null | undefined
      >) {
        const e = values?.email;
        if (typeof e === 'string' && e !== '') out.add(normalizeEmail(e));
      }
      return out;
    };
    // An email claimed for this pair on the way here is in the index already.
    const was = emails(before);
    if (claimed) was.add(claimed);
    const now = emails(after);
    const add = [...now].filter((e) => !was.has(e));
    const remove = [...was].filter((e) => !now.has(e));
    await this.deps.emailIndex.update(after.orgId, after.pairId, { add, remove });
  }
}

/** Names of the fields a change says changed (all it carries, for a partial CDC update). */
function changedFieldsOf(change: ObservedChange): string[] {
  if (change.changed) return [...change.changed];
  return change.full ? [] : Object.keys(change.values);
}
