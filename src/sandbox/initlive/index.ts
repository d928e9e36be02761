export { DEFAULT_SANDBOX_ORG, startInitLiveSandbox } from './server';
export type {
  InitLiveSandbox,
  InitLiveSandboxControl,
  InitLiveSandboxOptions,
  OrgOption,
} from './server';
export type { SandboxCounters } from './app';
export type { FeedEntry, SandboxOrg, StaffRecord, WritableStaffFields } from './model';
export { generateSeedStaff } from './seed';
export type { SeedStaff } from './seed';
export type { DeliveryAttempt, WebhookDeliveryOptions, WebhookMode } from './webhooks';
