/**
 * The InitLive sandbox's own view of the contract (docs/sandbox-initlive.md). It deliberately
 * does not import the connector's client types: the emulator and the client are written
 * separately against the same document, so a drift between them shows up as a failing test
 * instead of being shared silently.
 */

export interface StaffAddress {
  street: string | null;
  city: string | null;
  region: string | null;
  postalCode: string | null;
  country: string | null;
}

export type StaffStatus = 'active' | 'archived';
export type CustomAnswer = string | number | boolean | null;

/** The fields a client (or a human in the InitLive UI) may write. */
export interface WritableStaffFields {
  firstName: string;
  lastName: string;
  email: string | null;
  phone: string | null;
  mobilePhone: string | null;
  address: StaffAddress | null;
  birthdate: string | null;
  tags: string[];
  customAnswers: Record<string, CustomAnswer>;
  status: StaffStatus;
}

export const WRITABLE_FIELDS = [
  'firstName',
  'lastName',
  'email',
  'phone',
  'mobilePhone',
  'address',
  'birthdate',
  'tags',
  'customAnswers',
  'status',
] as const satisfies ReadonlyArray<keyof WritableStaffFields>;

/** Present in every record, written only by InitLive itself. */
export const READ_ONLY_FIELDS = [
  'id',
  'orgId',
  'hoursWorked',
  'version',
  'createdAt',
  'updatedAt',
] as const;

export interface StaffRecord extends WritableStaffFields {
  id: string;
  orgId: string;
  hoursWorked: number;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export type ChangeType = 'created' | 'updated' | 'archived' | 'restored' | 'deleted';

export interface FeedEntry {
  seq: number;
  type: ChangeType;
  staffId: string;
  version: number;
  changedFields: string[];
  origin: string | null;
  occurredAt: string;
  /** The record after the change; null for `deleted`. */
  staff: StaffRecord | null;
}

export interface SandboxOrg {
  id: string;
  name: string;
  /** IANA zone, e.g. America/Los_Angeles. */
  timezone: string;
  /** The integration key; it belongs to this organization only. */
  apiKey: string;
}

export interface WebhookSubscription {
  id: string;
  url: string;
  secret: string;
}

export type ApiErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'duplicate_email'
  | 'cursor_expired'
  | 'version_mismatch'
  | 'rate_limited'
  | 'internal';

/** An error the API answers with, in the one error shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): { error: { code: ApiErrorCode; message: string; details: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}
