import { ApiError, READ_ONLY_FIELDS, WRITABLE_FIELDS } from './model';
import type { CustomAnswer, StaffAddress, StaffStatus, WritableStaffFields } from './model';

/**
 * Validation of staff writes. Every problem is collected, so one 400 names every bad field
 * in `details` (`{"email": "must be a valid email address", "address.city": "..."}`).
 *
 * Rules (documented in docs/sandbox-initlive.md):
 * - `lastName` is required on create and may never be blank; `firstName` may be empty.
 * - Nullable text fields are cleared with null, never with "".
 * - `hoursWorked`, `id`, `orgId`, `version`, `createdAt`, `updatedAt` are read-only.
 * - Unknown fields are rejected rather than ignored, so a typo does not silently drop data.
 */

const ADDRESS_KEYS = ['street', 'city', 'region', 'postalCode', 'country'] as const;
// Deliberately simple: one @, no spaces, a dot in the domain. Real InitLive is no stricter.
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
const CUSTOM_KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
// Tab, CR and LF are allowed (addresses and answers can be multi-line); other C0 controls are not.
const isControlChar = (code: number): boolean =>
  (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f;
const hasControlChars = (value: string): boolean =>
  [...value].some((ch) => isControlChar(ch.charCodeAt(0)));

const writable = new Set<string>(WRITABLE_FIELDS);
const readOnly = new Set<string>(READ_ONLY_FIELDS);

type Problems = Record<string, string>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown, field: string, problems: Problems, max: number): string | undefined {
  if (typeof value !== 'string') {
    problems[field] = 'must be a string';
    return undefined;
  }
  if (value.length > max) problems[field] = `must be at most ${max} characters`;
  else if (hasControlChars(value)) problems[field] = 'must not contain control characters';
  else return value;
  return undefined;
}

function nullableText(
  value: unknown,
  field: string,
  problems: Problems,
  max: number,
): string | null | undefined {
  if (value === null) return null;
  if (value === '') {
    problems[field] = 'must not be empty; use null to clear it';
    return undefined;
  }
  return text(value, field, problems, max);
}

/** `YYYY-MM-DD` that names a real calendar day between 1900 and 2100. */
export function isCalendarDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1900 || year > 2100 || month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function address(value: unknown, problems: Problems): StaffAddress | null | undefined {
  if (value === null) return null;
  if (!isPlainObject(value)) {
    problems.address = 'must be an object or null';
    return undefined;
  }
  const out: StaffAddress = {
    street: null,
    city: null,
    region: null,
    postalCode: null,
    country: null,
  };
  for (const key of Object.keys(value)) {
    if (!(ADDRESS_KEYS as readonly string[]).includes(key)) {
      problems[`address.${key}`] = `is not an address field (${ADDRESS_KEYS.join(', ')})`;
    }
  }
  for (const key of ADDRESS_KEYS) {
    if (value[key] === undefined) continue;
    const v = nullableText(value[key], `address.${key}`, problems, 200);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function tags(value: unknown, problems: Problems): string[] | undefined {
  if (!Array.isArray(value)) {
    problems.tags = 'must be an array of strings';
    return undefined;
  }
  if (value.length > 50) {
    problems.tags = 'must have at most 50 tags';
    return undefined;
  }
  const seen = new Set<string>();
  const out: string[] = [];
  value.forEach((tag: unknown, i) => {
    const field = `tags.${i}`;
    if (typeof tag !== 'string' || tag.trim() === '')
      problems[field] = 'must be a non-blank string';
    else if (tag.length > 50) problems[field] = 'must be at most 50 characters';
    else if (seen.has(tag.toLowerCase())) problems[field] = `repeats the tag "${tag}"`;
    else {
      seen.add(tag.toLowerCase());
      out.push(tag);
    }
  });
  return out;
}

function customAnswers(
  value: unknown,
  problems: Problems,
): Record<string, CustomAnswer> | undefined {
  if (!isPlainObject(value)) {
    problems.customAnswers = 'must be an object';
    return undefined;
  }
  const entries = Object.entries(value);
  if (entries.length > 100) {
    problems.customAnswers = 'must have at most 100 answers';
    return undefined;
  }
  const out: Record<string, CustomAnswer> = {};
  for (const [key, answer] of entries) {
    const field = `customAnswers.${key}`;
    if (!CUSTOM_KEY.test(key)) problems[field] = 'key must match [A-Za-z][A-Za-z0-9_]{0,63}';
    else if (typeof answer === 'string') {
      if (answer.length > 2000) problems[field] = 'must be at most 2000 characters';
      else out[key] = answer;
    } else if (typeof answer === 'number' && !Number.isFinite(answer)) {
      problems[field] = 'must be a finite number';
    } else if (answer === null || typeof answer === 'number' || typeof answer === 'boolean') {
      out[key] = answer;
    } else problems[field] = 'must be a string, number, boolean or null';
  }
  return out;
}

function field(
  name: (typeof WRITABLE_FIELDS)[number],
  value: unknown,
  problems: Problems,
): WritableStaffFields[typeof name] | undefined {
  switch (name) {
    case 'firstName':
      return text(value, name, problems, 100);
    case 'lastName': {
      const v = text(value, name, problems, 100);
      if (v !== undefined && v.trim() === '') {
        problems.lastName = 'must not be blank';
        return undefined;
      }
      return v;
    }
    case 'email': {
      const v = nullableText(value, name, problems, 254);
      if (typeof v === 'string' && !EMAIL.test(v)) {
        problems.email = 'must be a valid email address';
        return undefined;
      }
      return v;
    }
    case 'phone':
    case 'mobilePhone': {
      const v = nullableText(value, name, problems, 40);
      if (typeof v === 'string' && !/\d/.test(v)) {
        problems[name] = 'must contain digits';
        return undefined;
      }
      return v;
    }
    case 'address':
      return address(value, problems);
    case 'birthdate': {
      if (value === null) return null;
      if (typeof value !== 'string' || !isCalendarDate(value)) {
        problems.birthdate = 'must be a calendar date YYYY-MM-DD (1900..2100) or null';
        return undefined;
      }
      return value;
    }
    case 'tags':
      return tags(value, problems);
    case 'customAnswers':
      return customAnswers(value, problems);
    case 'status':
      if (value === 'active' || value === 'archived') return value satisfies StaffStatus;
      problems.status = 'must be "active" or "archived"';
      return undefined;
  }
}

/**
 * Checks a create or patch body and returns the writable fields it sets. Throws a 400
 * `invalid_request` naming every bad field. On create, missing fields take their defaults
 * (null, [], {}, "active", firstName "").
 */
export function parseStaffWrite(body: unknown, mode: 'create'): WritableStaffFields;
export function parseStaffWrite(body: unknown, mode: 'patch'): Partial<WritableStaffFields>;
export function parseStaffWrite(
  body: unknown,
  mode: 'create' | 'patch',
): Partial<WritableStaffFields> {
  if (!isPlainObject(body)) {
    throw new ApiError(400, 'invalid_request', 'The staff must be a JSON object', {
      body: 'must be a JSON object',
    });
  }
  const problems: Problems = {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (readOnly.has(key)) problems[key] = 'is read-only';
    else if (!writable.has(key)) problems[key] = 'is not a staff field';
    else if (value === undefined) continue;
    else {
      const parsed = field(key as (typeof WRITABLE_FIELDS)[number], value, problems);
      if (parsed !== undefined) out[key] = parsed;
    }
  }
  if (mode === 'create' && body.lastName === undefined) problems.lastName = 'is required';
  if (Object.keys(problems).length > 0) {
    throw new ApiError(
      400,
      'invalid_request',
      `Invalid staff: ${Object.entries(problems)
        .map(([k, v]) => `${k} ${v}`)
        .join('; ')}`,
      problems,
    );
  }
  if (mode === 'patch') return out;
  const defaults: WritableStaffFields = {
    firstName: '',
    lastName: '',
    email: null,
    phone: null,
    mobilePhone: null,
    address: null,
    birthdate: null,
    tags: [],
    customAnswers: {},
    status: 'active',
  };
  return { ...defaults, ...out };
}
