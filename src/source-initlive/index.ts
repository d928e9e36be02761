export {
  InitLiveSource,
  idlePollCeilingMs,
  idlePollDelayMs,
  initLivePositionName,
} from './initlive-source';
export type {
  InitLiveSourceOptions,
  InitLiveSourceStats,
  InitLiveSourceStatus,
} from './initlive-source';
export {
  SNAPSHOT_POSITION,
  canonicalChangedFields,
  staffChangeFromFeed,
  staffSnapshot,
} from './staff-change';
export { WebhookReceiver } from './webhook-receiver';
export type {
  WakeOutcome,
  WakeReader,
  WebhookReceiverOptions,
  WebhookResponse,
  WebhookStats,
} from './webhook-receiver';
