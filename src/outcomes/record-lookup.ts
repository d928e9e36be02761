import type { EmailIndex } from '../core/email-index';
import type { Side } from '../core/pair-state';
import { recordView, type RecordView } from '../core/record-status';
import type { SyncDirection } from '../core/reconcile';
import type { VersionStore } from '../core/version-store';
import { SyncError } from '../errors';
import type { RecordStatusStore } from './record-status-store';

export type RecordQuery = { initliveId: string } | { salesforceId: string } | { email: string };

export interface RecordLookupDeps {
  store: VersionStore;
  emailIndex: EmailIndex;
  statuses: RecordStatusStore;
  /** The organization's sync direction (for "not linked because of the direction"). */
  directionOf: (orgId: string) => SyncDirection;
  /** Why a side's writes are held in this process right now, if they are. */
  pausedFor?: (orgId: string, side: Side) => string | null;
}

/**
 * Answers "what about this volunteer?": finds the pair a record belongs to (by either system's
 * id, or by email through the email index) and derives its state, reason and history from the
 * pair and its record status. A record that never joined a pair (refused before it could, an
 * ambiguous email) is found by its own id.
 */
export class RecordLookup {
  constructor(private readonly deps: RecordLookupDeps) {}

  /**
   * The record's view, or null when neither system's record is known to the connector.
   * Throws AMBIGUOUS_MATCH when an email belongs to several pairs (naming them).
   */
  async find(orgId: string, query: RecordQuery): Promise<RecordView | null> {
    const { store, statuses } = this.deps;
    let pairId: string | null = null;
    let own: { side: Side; recordId: string } | null = null;
    if ('email' in query) {
      const pairIds = await this.deps.emailIndex.find(orgId, query.email);
      if (pairIds.length > 1) {
        const links = await store.getLinks(orgId, pairIds);
        throw new SyncError('AMBIGUOUS_MATCH', `the email belongs to ${pairIds.length} records`, {
          context: {
            candidates: pairIds.map((id, i) => ({
              pairId: id,
              initliveId: links[i]?.initliveId ?? null,
              salesforceId: links[i]?.salesforceId ?? null,
            })),
          },
        });
      }
      pairId = pairIds[0] ?? null;
    } else {
      own =
        'initliveId' in query
          ? { side: 'initlive', recordId: query.initliveId }
          : { side: 'salesforce', recordId: query.salesforceId };
      pairId = await store.findPairId(orgId, own.side, own.recordId);
    }
    const [pair, status] = await Promise.all([
      pairId ? store.get(orgId, pairId) : null,
      pairId ? statuses.get(orgId, { pairId }) : own ? statuses.get(orgId, own) : null,
    ]);
    if (!pair && !status) return null;
    const direction = this.deps.directionOf(orgId);
    const view = recordView({
      pairId: pair ? pairId : null,
      pair: pair?.state ?? null,
      status: status?.fields ?? null,
      history: status?.history ?? [],
      direction,
      pausedFor: {
        initlive: this.deps.pausedFor?.(orgId, 'initlive') ?? null,
        salesforce: this.deps.pausedFor?.(orgId, 'salesforce') ?? null,
      },
    });
    // Asked by its own id: the record is known even when the pair holds another one by now.
    if (own && !pair) view[own.side === 'initlive' ? 'initliveId' : 'salesforceId'] = own.recordId;
    return view;
  }
}
