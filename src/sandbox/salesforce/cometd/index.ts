/**
 * Streaming side of the Salesforce sandbox: Change Data Capture over CometD. The data side
 * calls `attachCometd` once per server and drives each org's stream through `forOrg(orgId)`.
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
export type { CometdControl, CometdDeps, CometdHub } from '../model';
