export type {
  BatchOperation,
  BatchOutcome,
  ChangesPage,
  InitLiveApi,
  ListStaffOptions,
} from './initlive-api';
export { createInitLiveClient, initLiveErrorToSyncError } from './client';
export type { InitLiveClientOptions } from './client';
export {
  DEFAULT_SIGNATURE_TOLERANCE_MS,
  WEBHOOK_SIGNATURE_HEADER,
  signWebhookBody,
  verifyWebhookSignature,
} from './webhook-signature';
export type { SignatureCheck } from './webhook-signature';
export { CUSTOM_ANSWER_MAX_LENGTH, webhookEventSchema } from './types';
export type {
  Address,
  CustomAnswerValue,
  NewStaff,
  Organization,
  Staff,
  StaffChange,
  StaffChangeType,
  StaffFields,
  StaffPatch,
  StaffStatus,
  WebhookEvent,
  WebhookRegistration,
} from './types';
