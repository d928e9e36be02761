import { outcomeSide, positionDecisionId, writeOutcomeId } from '../core/outcomes';
import type { Side } from '../core/pair-state';
import type {
  DeadLetter,
  InitLiveWrite,
  OutcomeItem,
  OutcomeResult,
  SalesforceWrite,
} from '../core/records';
import type { ConsumedRecord } from '../core/transport';
import { outcomeItem } from '../pipeline/outcomes';

/**
 * The outcome of one consumed write command, as both sinks report it. Its id derives from the
 * write's cause, so a write the reconciler sent again (after a crash) is counted once; a write
 * from before outcomes existed is named by its place in the topic.
 */
export function writeOutcome(
  side: Side,
  record: ConsumedRecord,
  write: SalesforceWrite | InitLiveWrite,
  result: OutcomeResult,
  at: number,
  extra: Partial<OutcomeItem> = {},
): OutcomeItem {
  const cause = write.causeId ?? positionDecisionId('w', record.partition, record.offset);
  return outcomeItem({
    id: writeOutcomeId(cause, side),
    stage: 'WRITTEN',
    pairId: write.pairId,
    runId: write.runId ?? null,
    side: outcomeSide(side),
    operation: write.operation,
    result,
    initliveId: 'externalId' in write ? write.externalId : write.initliveId,
    salesforceId: write.salesforceId,
    fields: Object.keys(write.fields),
    at,
    ...extra,
  });
}

/** What an outcome says about a write that went to the dead letters. */
export function failureOf(letter: DeadLetter): Partial<OutcomeItem> {
  return {
    errorCode: letter.errorCode,
    upstreamCode: letter.upstreamCode,
    message: letter.message,
    deadLetterId: letter.id,
  };
}
