/**
 * The record types that cross Kafka, one per schemas/*.avsc file. These TypeScript shapes and
 * the Avro schemas describe the same records; test/unit/avro-codec.test.ts checks that every
 * sample of each type encodes, so a drift between the two fails a test.
 */
export type FieldValue = string | number | boolean | string[] | null;
export type FieldValues = Record<string, FieldValue>;

export type ChangeOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'ARCHIVE' | 'RESTORE' | 'SNAPSHOT';

/** Fields every change record carries, whichever side it comes from. */
interface ChangeBase {
  orgId: string;
  operation: ChangeOperation;
  /** Canonical field names that changed; empty for snapshots and deletes. */
  changedFields: string[];
  /** Canonical values after the change. */
  values: FieldValues;
  /** Record version on its side: InitLive staff version; Salesforce commit time in ms. */
  sourceVersion: number;
  /** Position in the source stream: feed seq, CDC replay id, or snapshot run/page. */
  sourcePosition: string;
  /** Who caused the change: X-Change-Origin (InitLive) or changeOrigin (Salesforce CDC). */
  origin: string | null;
  /** When the connector read it. */
  observedAt: number;
  /** When the source system says it happened. */
  occurredAt: number;
  /** Full-sync run that produced this snapshot record, if any. */
  runId: string | null;
  /** How a full sync found the other record named here ('email'); null or absent otherwise. */
  matchedBy?: string | null;
}

export interface InitLiveStaffChange extends ChangeBase {
  initliveId: string;
  salesforceId: string | null;
  /** Set on a snapshot read because our write was refused (`write_rejected`); null otherwise. */
  resync?: string | null;
}

export interface SalesforceContactChange extends ChangeBase {
  salesforceId: string;
  initliveId: string | null;
  commitUser: string | null;
  transactionKey: string | null;
  sequenceNumber: number | null;
}

export interface SalesforceWrite {
  orgId: string;
  pairId: string;
  operation: 'UPSERT' | 'DELETE';
  externalId: string | null;
  salesforceId: string | null;
  /** Salesforce API field name -> value; null clears the field. */
  fields: FieldValues;
  fingerprint: string;
  causedBy: string;
  decidedAt: number;
  attempt: number;
  /** Full-sync run whose snapshot led to this write; null (or absent in older records) otherwise. */
  runId?: string | null;
  /** Outcome id of what caused this write; the write's own outcome id derives from it. */
  causeId?: string | null;
}

export interface InitLiveWrite {
  orgId: string;
  pairId: string;
  operation: 'CREATE' | 'UPDATE' | 'ARCHIVE' | 'RESTORE' | 'DELETE';
  initliveId: string | null;
  salesforceId: string | null;
  ifMatch: number | null;
  fields: FieldValues;
  fingerprint: string;
  causedBy: string;
  decidedAt: number;
  attempt: number;
  /** Full-sync run whose snapshot led to this write; null (or absent in older records) otherwise. */
  runId?: string | null;
  /** Outcome id of what caused this write; the write's own outcome id derives from it. */
  causeId?: string | null;
}

export interface DeadLetter {
  id: string;
  orgId: string | null;
  sourceTopic: string;
  sourcePartition: number | null;
  sourceOffset: string | null;
  originalKey: string | null;
  /** The original record's bytes exactly as consumed, so a retry re-sends the same thing. */
  originalValue: Buffer;
  recordType: string | null;
  errorCode: string;
  upstreamCode: string | null;
  message: string;
  attempts: number;
  firstFailedAt: number;
  lastFailedAt: number;
  context: Record<string, string>;
}

export type OutcomeStage = 'DECIDED' | 'WRITTEN';
export type OutcomeSide = 'INITLIVE' | 'SALESFORCE';
export type OutcomeResult =
  'DECIDED' | 'UNCHANGED' | 'CREATED' | 'UPDATED' | 'DELETED' | 'SUPERSEDED' | 'FAILED';

/** One decision of the reconciler or one write a sink finished (schemas/sync-outcome.avsc). */
export interface OutcomeItem {
  /** Stable identity: a redelivered decision or a write sent again carries the same id. */
  id: string;
  stage: OutcomeStage;
  pairId: string | null;
  runId: string | null;
  /** DECIDED: the system the change was read from; WRITTEN: the system written. */
  side: OutcomeSide;
  operation: string;
  result: OutcomeResult;
  /** The reconciler's outcome (applied, unchanged, duplicate, stale, echo, rejected). */
  decision: string | null;
  initliveId: string | null;
  salesforceId: string | null;
  /** Field names only: the fields that changed (DECIDED) or were written (WRITTEN). */
  fields: string[];
  /** Fields both sides changed, settled by the default system. */
  conflicts: string[];
  /** One entry per write this outcome caused; each brings an outcome of its own. */
  writesTo: OutcomeSide[];
  /** Decisions this outcome caused (a stale write asks for a new decision). */
  decisions: number;
  /** Set when this outcome linked the pair: external_id, email or created. */
  linkedBy: string | null;
  errorCode: string | null;
  upstreamCode: string | null;
  message: string | null;
  deadLetterId: string | null;
  /** DECIDED: when the source read the change. */
  observedAt: number | null;
  at: number;
}

/** One organization's outcomes, produced together (keyed by orgId). */
export interface SyncOutcome {
  orgId: string;
  items: OutcomeItem[];
}

export type SyncTrigger = 'MANUAL' | 'SCHEDULED' | 'RECOVERY';
export type SyncRunEventKind =
  'REQUESTED' | 'STARTED' | 'PROGRESS' | 'SUCCEEDED' | 'PARTIALLY_SUCCEEDED' | 'FAILED';

export interface SyncRunEvent {
  orgId: string;
  runId: string;
  kind: SyncRunEventKind;
  trigger: SyncTrigger;
  reason: string | null;
  at: number;
  counts: Record<string, number>;
}

/** Record type name (the Avro record name) -> its TypeScript shape. */
export interface RecordTypes {
  InitLiveStaffChange: InitLiveStaffChange;
  SalesforceContactChange: SalesforceContactChange;
  SalesforceWrite: SalesforceWrite;
  InitLiveWrite: InitLiveWrite;
  DeadLetter: DeadLetter;
  SyncRunEvent: SyncRunEvent;
  SyncOutcome: SyncOutcome;
}

export type RecordTypeName = keyof RecordTypes;

/** Schema file of each record type, under schemas/. */
export const recordSchemaFiles: Record<RecordTypeName, string> = {
  InitLiveStaffChange: 'initlive-staff-change.avsc',
  SalesforceContactChange: 'salesforce-contact-change.avsc',
  SalesforceWrite: 'salesforce-write.avsc',
  InitLiveWrite: 'initlive-write.avsc',
  DeadLetter: 'dead-letter.avsc',
  SyncRunEvent: 'sync-run-event.avsc',
  SyncOutcome: 'sync-outcome.avsc',
};

/** Encodes and decodes records to bytes; see src/infra/avro. */
export interface RecordCodec {
  encode<T extends RecordTypeName>(type: T, value: RecordTypes[T]): Promise<Buffer>;
  /** Decodes bytes written with any registered version of the type's schema into the current shape. */
  decode<T extends RecordTypeName>(type: T, bytes: Buffer): Promise<RecordTypes[T]>;
}
