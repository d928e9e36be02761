/**
 * Streaming side of the Salesforce sandbox: Change Data Capture over CometD. The data side
 * calls `attachCometd` once per emulated org and drives it through the returned control.
 */
export { attachCometd, CONTACT_CHANNELS, type AttachCometdOptions } from './attach-cometd';
export {
  buildChangeEvent,
  buildHeaderOnlyEvent,
  CONTACT_SCHEMA_ID,
  type ChangeEventBody,
  type ChangeEventHeader,
  type ChangeEventPayload,
} from './change-event';
export type { CometdControl, CometdDeps } from '../model';
