/**
 * Structured JSON logger, one line per event. It never prints secrets: values under
 * secret-looking keys are replaced, and any string registered with `redact()` (tokens issued
 * at run time) is scrubbed wherever it appears, even inside free text.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const levelRank: Record<LogLevel, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: 99,
};

const secretKey =
  /(pass(word)?|secret|token|authorization|api[-_]?key|assertion|code_verifier|cookie|signature|private[-_]?key|encryption[-_]?key)$/i;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /** Registers a secret value so it is scrubbed from every later line of this logger family. */
  redact(value: string | undefined | null): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to stdout. Tests capture lines here. */
  write?: (line: string) => void;
  base?: Record<string, unknown>;
}

interface Shared {
  level: number;
  write: (line: string) => void;
  secrets: Set<string>;
}

const REDACTED = '[redacted]';

const EMAIL = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;

/**
 * Takes the field values other systems echo in their error messages out of a text: emails, and
 * what follows Salesforce's "data value too large:", "invalid email address:" and the like. Log
 * lines and dead-letter reasons carry ids, field names and codes, never a volunteer's data.
 */
export function scrubValues(text: string): string {
  return text
    .replace(/(data value too large): .*?( \(max length=\d+\))/g, '$1$2')
    .replace(
      /(invalid email address|bad value for restricted picklist field|not a valid date|invalid date|invalid number|value not of required type): [^;]*/gi,
      '$1',
    )
    .replace(EMAIL, '[email]');
}

/** Keys whose text may quote a record (error messages): their values are scrubbed of it. */
const messageKey = /^(msg|message|reason|detail|error|description)$/i;

function scrubString(value: string, secrets: Set<string>): string {
  let out = value;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  // Bearer/OAuth headers that slipped into a message.
  return out.replace(/\b(Bearer|OAuth)\s+[A-Za-z0-9._~+/=!-]{8,}/g, `$1 ${REDACTED}`);
}

function scrub(value: unknown, secrets: Set<string>, depth = 0): unknown {
  if (depth > 6) return '[deep]';
  if (typeof value === 'string') return scrubString(value, secrets);
  if (value instanceof Error) {
    const out: Record<string, unknown> = {
      name: value.name,
      message: scrubValues(scrubString(value.message, secrets)),
    };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] =
        secretKey.test(k) && v !== null && v !== undefined && v !== ''
          ? REDACTED
          : typeof v === 'string' && messageKey.test(k)
            ? scrubValues(scrubString(v, secrets))
            : scrub(v, secrets, depth + 1);
    }
    return out;
  }
  return value;
}

function make(shared: Shared, base: Record<string, unknown>): Logger {
  const emit = (
    level: Exclude<LogLevel, 'silent'>,
    msg: string,
    fields?: Record<string, unknown>,
  ): void => {
    if (levelRank[level] < shared.level) return;
    const record = scrub(
      { time: new Date().toISOString(), level, msg, ...base, ...fields },
      shared.secrets,
    );
    shared.write(JSON.stringify(record));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => make(shared, { ...base, ...fields }),
    redact: (value) => {
      // Very short values would scrub ordinary words; real tokens and keys are long.
      if (value && value.length >= 6) shared.secrets.add(value);
    },
  };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const shared: Shared = {
    level: levelRank[options.level ?? 'info'],
    write: options.write ?? ((line) => process.stdout.write(line + '\n')),
    secrets: new Set(),
  };
  return make(shared, options.base ?? {});
}

/** A logger that drops everything; for tests that do not look at logs. */
export const silentLogger: Logger = createLogger({ level: 'silent' });
