/**
 * The seam between the Salesforce sandbox's data side (org store, OAuth, REST, Bulk 2.0) and
 * its streaming side (CometD / Change Data Capture). The data side calls `WriteListener`s
 * after every committed write, from whatever API; the streaming side turns those into the
 * change events Salesforce would publish. One sandbox instance emulates one org.
 */

/** A Contact as stored: API field name -> value (null when empty). Includes Id and system fields. */
export type ContactRecord = Record<string, string | number | boolean | null>;

export type WriteChangeType = 'CREATE' | 'UPDATE' | 'DELETE' | 'UNDELETE';

/**
 * Which API made the write; becomes the `<api>` part of changeOrigin. `'ui'` is a change made
 * by a person in the Salesforce UI (or by the sandbox's control API acting as one): Salesforce
 * sends an empty changeOrigin for those.
 */
export type WriteApi = 'rest' | 'bulkapi' | 'soap' | 'ui';

export interface ContactWriteEvent {
  changeType: WriteChangeType;
  recordId: string;
  /** Record before the write (null for CREATE). */
  before: ContactRecord | null;
  /** Record after the write (null for DELETE). */
  after: ContactRecord | null;
  /** Flat API names of fields whose value changed (e.g. FirstName, MailingCity, LastModifiedDate). */
  changedFields: string[];
  api: WriteApi;
  /** API version of the call, e.g. "62.0". */
  apiVersion: string;
  /** `client=` value parsed from Sforce-Call-Options, or null when the call set none. */
  client: string | null;
  /** Id of the user whose token made the call (commitUser). */
  userId: string;
  /** Shared by every event of one API call (one transaction). */
  transactionKey: string;
  /** Order within the transaction, from 1. */
  sequenceNumber: number;
  /** Commit time, epoch ms. */
  commitTimestamp: number;
}

export type WriteListener = (events: ContactWriteEvent[]) => void;

/** A committed write of one org, as a server hosting many orgs reports it. */
export type OrgWriteListener = (orgId: string, events: ContactWriteEvent[]) => void;

export interface AccessTokenInfo {
  userId: string;
  orgId: string;
}

/**
 * What the streaming side needs from the data side. The data side may host many orgs: a
 * token's org decides which org's events its session sees.
 */
export interface CometdDeps {
  /** Resolves an access token (of any org); null when unknown, expired or revoked. */
  authenticate(accessToken: string): AccessTokenInfo | null;
  /** Fires when an access token stops being valid (revoked directly or via its refresh token). */
  onTokenRevoked(listener: (accessToken: string) => void): () => void;
  onWrite(listener: OrgWriteListener): () => void;
  /**
   * Whether the org's Change Data Capture publishes Contact changes (its selection). Writes
   * made while it does not are never published, not even later. Default: always.
   */
  contactSelected?: (orgId: string) => boolean;
  /** Clock (epoch ms); injectable so retention can be tested. */
  now(): number;
  /** Replay retention window in ms (Salesforce: 72 h). */
  retentionMs: number;
  /** Counts an API call against the org's daily allocation? CometD does not; kept for symmetry. */
  apiVersion: string;
}

/** What the data side (and the fault-injection endpoint) can ask of one org's stream. */
export interface CometdControl {
  /** Forget every Bayeux client of the org: their next connect gets 403::Unknown client. */
  dropAllClients(): void;
  /** Publish GAP_<type> events for these record ids (header only). */
  emitGap(
    changeType: 'GAP_CREATE' | 'GAP_UPDATE' | 'GAP_DELETE' | 'GAP_UNDELETE',
    recordIds: string[],
  ): void;
  /** Publish one GAP_OVERFLOW event for Contact. */
  emitOverflow(): void;
  /** Drop every retained event: stored replay ids become invalid. */
  purgeRetention(): void;
  /** Replay id of the newest retained event (0 when none). */
  latestReplayId(): number;
  /** Connected Bayeux client count (of the org). */
  clientCount(): number;
}

/** The streaming side of a server: one Bayeux endpoint serving every org's stream. */
export interface CometdHub {
  /** The control of one org's stream (its state is allocated on first use). */
  forOrg(orgId: string): CometdControl;
  /** Answers held connects and detaches from the server. */
  close(): Promise<void>;
}
