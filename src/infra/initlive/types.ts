import { z } from 'zod';

/**
 * InitLive's records as the connector sees them, with the zod schemas that check every
 * response before it goes further. Unknown extra fields are dropped (so InitLive may add
 * fields without breaking us); a missing or mistyped field is an error.
 */

const isoInstant = z.iso.datetime({ offset: true });
/** `YYYY-MM-DD`, kept as a string so it never shifts with time zones. */
const calendarDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD');

export const addressSchema = z.object({
  street: z.string().nullable(),
  city: z.string().nullable(),
  region: z.string().nullable(),
  postalCode: z.string().nullable(),
  country: z.string().nullable(),
});
export type Address = z.infer<typeof addressSchema>;

/**
 * Longest text answer InitLive keeps for a form question. The contract names no limit; this is
 * the one the InitLive sandbox enforces (docs/sandbox-initlive.md), so a Contact field shorter
 * than it is worth a warning when answers are mapped to it.
 */
export const CUSTOM_ANSWER_MAX_LENGTH = 2000;

export const customAnswerValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export type CustomAnswerValue = z.infer<typeof customAnswerValueSchema>;

export const staffStatusSchema = z.enum(['active', 'archived']);
export type StaffStatus = z.infer<typeof staffStatusSchema>;

export const staffSchema = z.object({
  id: z.string().min(1),
  orgId: z.string().min(1),
  firstName: z.string(),
  lastName: z.string(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  mobilePhone: z.string().nullable(),
  address: addressSchema.nullable(),
  birthdate: calendarDate.nullable(),
  tags: z.array(z.string()),
  customAnswers: z.record(z.string(), customAnswerValueSchema),
  status: staffStatusSchema,
  hoursWorked: z.number().nonnegative(),
  version: z.number().int().positive(),
  createdAt: isoInstant,
  updatedAt: isoInstant,
});
/** One staff member as InitLive returns it. */
export type Staff = z.infer<typeof staffSchema>;

/** Fields a client may write. `hoursWorked`, `id`, `version` and timestamps are InitLive's. */
export interface StaffFields {
  firstName: string;
  lastName: string;
  email: string | null;
  phone: string | null;
  mobilePhone: string | null;
  address: Address | null;
  birthdate: string | null;
  tags: string[];
  customAnswers: Record<string, CustomAnswerValue>;
  status: StaffStatus;
}

/** A create: `lastName` is required; everything else defaults (null, [], {}, active). */
export type NewStaff = Pick<StaffFields, 'lastName'> & Partial<Omit<StaffFields, 'lastName'>>;

/** A partial update: top-level fields present are replaced whole (address, tags, customAnswers too). */
export type StaffPatch = Partial<StaffFields>;

export const changeTypeSchema = z.enum(['created', 'updated', 'archived', 'restored', 'deleted']);
export type StaffChangeType = z.infer<typeof changeTypeSchema>;

export const staffChangeSchema = z.object({
  seq: z.number().int().positive(),
  type: changeTypeSchema,
  staffId: z.string().min(1),
  version: z.number().int().positive(),
  changedFields: z.array(z.string()),
  origin: z.string().nullable(),
  occurredAt: isoInstant,
  staff: staffSchema.nullable(),
});
/** One entry of the change feed; `staff` is the record after the change (null once deleted). */
export type StaffChange = z.infer<typeof staffChangeSchema>;

export const changesPageSchema = z.object({
  data: z.array(staffChangeSchema),
  nextAfter: z.number().int().nonnegative(),
  hasMore: z.boolean(),
});

export const staffPageSchema = z.object({
  data: z.array(staffSchema),
  nextCursor: z.string().min(1).nullable(),
});

export const organizationSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  timezone: z.string(),
});
export type Organization = z.infer<typeof organizationSchema>;

export const webhookSchema = z.object({ id: z.string().min(1), url: z.string().min(1) });
export type WebhookRegistration = z.infer<typeof webhookSchema>;

export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).nullish(),
  }),
});
export type InitLiveErrorBody = z.infer<typeof errorBodySchema>['error'];

export const batchResultSchema = z.union([
  z.object({ ok: z.literal(true), staff: staffSchema.nullable() }),
  z.object({ ok: z.literal(false), error: errorBodySchema.shape.error }),
]);
export const batchResponseSchema = z.object({ results: z.array(batchResultSchema) });

/** The webhook body InitLive POSTs: a nudge to read the feed sooner, never the data itself. */
export const webhookEventSchema = z.object({
  id: z.string().min(1),
  type: z.literal('staff.changed'),
  orgId: z.string().min(1),
  seq: z.number().int().positive(),
  occurredAt: isoInstant,
});
export type WebhookEvent = z.infer<typeof webhookEventSchema>;
