import { z } from 'zod';
import { fieldMappingSchema, resolveMapping } from './mapping';
import type { MappedFieldName } from './mapping';
import type { ReconcileSettings } from './reconcile';

/**
 * An organization's sync settings, as the admin API reads and writes them (issue 5). Every
 * field has a default, and the defaults are the safest choice: InitLive -> Salesforce only,
 * no schedule (manual), deletes archived rather than propagated.
 */

/** IANA time zone names the runtime knows ("America/Vancouver", "UTC"). */
export function isIanaTimeZone(name: string): boolean {
  // Offsets like "+02:00" are accepted by Intl but are not zones: they ignore DST.
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export const scheduleSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('manual') }).strict(),
  z
    .object({
      mode: z.literal('interval'),
      everyMinutes: z
        .number({ error: 'must be a whole number of minutes' })
        .int('must be a whole number of minutes')
        .min(5, 'must be at least 5')
        .max(1440, 'must be at most 1440'),
    })
    .strict(),
  z
    .object({
      mode: z.literal('daily'),
      at: z
        .string({ error: 'must be a time as HH:MM' })
        .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time as HH:MM (00:00 to 23:59)'),
      timezone: z
        .string({ error: 'must be an IANA time zone name' })
        .refine(isIanaTimeZone, 'must be an IANA time zone name, e.g. America/Vancouver'),
    })
    .strict(),
]);

export type Schedule = z.infer<typeof scheduleSchema>;

const twoWayMessage = 'is required when direction is two_way (it wins edits made on both sides)';

export const syncSettingsSchema = z
  .object({
    direction: z
      .enum(['initlive_to_salesforce', 'salesforce_to_initlive', 'two_way'])
      .default('initlive_to_salesforce'),
    /**
     * Wins concurrent edits in two-way sync. Required for two_way; kept (but unused) for
     * one-way so switching to two-way later keeps the admin's choice.
     */
    defaultSystem: z.enum(['initlive', 'salesforce']).optional(),
    streaming: z.boolean().default(true),
    schedule: scheduleSchema.default({ mode: 'manual' }),
    deletePolicy: z.enum(['archive', 'propagate', 'ignore']).default('archive'),
    fieldMapping: fieldMappingSchema.default([]),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.direction === 'two_way' && s.defaultSystem === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultSystem'],
        message: twoWayMessage,
      });
    }
  })
  .transform((s) => ({ ...s, defaultSystem: s.defaultSystem ?? ('initlive' as const) }));

export type SyncSettings = z.output<typeof syncSettingsSchema>;
export type SyncSettingsInput = z.input<typeof syncSettingsSchema>;

/** The defaults: what a newly connected organization gets. */
export const defaultSyncSettings: SyncSettings = syncSettingsSchema.parse({});

export interface SettingsProblem {
  /** Dotted path of the bad field, e.g. `schedule.everyMinutes` or `fieldMapping.2.direction`. */
  path: string;
  message: string;
}

export type SettingsParse =
  { ok: true; settings: SyncSettings } | { ok: false; problems: SettingsProblem[] };

/** Validates a settings payload; on failure lists every bad field by path. */
export function parseSyncSettings(input: unknown): SettingsParse {
  const result = syncSettingsSchema.safeParse(input);
  if (result.success) return { ok: true, settings: result.data };
  const problems: SettingsProblem[] = [];
  const pathOf = (parts: readonly PropertyKey[]): string => parts.map(String).join('.') || '(body)';
  for (const issue of result.error.issues) {
    // One entry per unknown key, so each one is named like any other bad field.
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        problems.push({ path: pathOf([...issue.path, key]), message: 'is not a known setting' });
    } else {
      problems.push({ path: pathOf(issue.path), message: issue.message });
    }
  }
  // zod skips object-level rules once a field failed; the two-way rule is checked here too so
  // one response names every problem.
  const raw = input as { direction?: unknown; defaultSystem?: unknown } | null;
  if (
    typeof raw === 'object' &&
    raw !== null &&
    raw.direction === 'two_way' &&
    raw.defaultSystem === undefined &&
    !problems.some((p) => p.path === 'defaultSystem')
  ) {
    problems.push({ path: 'defaultSystem', message: twoWayMessage });
  }
  return { ok: false, problems };
}

/**
 * What the reconciler needs of the settings; the mapping is resolved against the defaults,
 * without the Salesforce fields `held` back (lower-cased names: fields that drifted away), and
 * with the fields that came back since the time given in `restored` to be settled afresh (see
 * ReconcileSettings.forget).
 */
export function toReconcileSettings(
  settings: SyncSettings,
  held: ReadonlySet<string> = new Set(),
  restored: ReadonlyMap<string, number> = new Map(),
): ReconcileSettings {
  const mapping = resolveMapping(settings.fieldMapping, held);
  const forget = new Map<MappedFieldName, number>();
  for (const m of mapping) {
    const at = restored.get(m.salesforceField.toLowerCase());
    if (at !== undefined) forget.set(m.field, at);
  }
  return {
    direction: settings.direction,
    defaultSystem: settings.defaultSystem,
    deletePolicy: settings.deletePolicy,
    mapping,
    ...(forget.size > 0 ? { forget } : {}),
  };
}
