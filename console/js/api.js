// @ts-check
/**
 * The console's only way to the connector: the JSON API, same origin, with the session cookie
 * (sent by the browser, unreadable by this code) and the session's CSRF token on unsafe
 * methods. Every failure becomes an ApiError carrying the API's own message.
 */

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the connector did not answer
   * @param {string} code the API's error code (AUTH_FAILED, INVALID_INPUT, ...)
   * @param {string} message the API's message, shown as it is
   * @param {Record<string, any>} [details]
   */
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** Field problems of a 400, as the API names them: `[{ path, message }]`. */
  get fields() {
    const f = this.details.fields;
    return Array.isArray(f) ? /** @type {Array<{path: string, message: string}>} */ (f) : [];
  }

  /** A 404 for a route this connector does not have (an older version), not for a missing thing. */
  get noSuchRoute() {
    return this.status === 404 && /^no route /.test(this.message);
  }
}

/** @type {string | null} */
let csrfToken = null;

/** @param {string | null} token */
export function setCsrfToken(token) {
  csrfToken = token;
}

/** Called when the session has ended (401 on any call but sign-in). @type {() => void} */
let onSessionEnded = () => {};
/** @param {() => void} fn */
export function whenSessionEnds(fn) {
  onSessionEnded = fn;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Calls the API. Resolves with the parsed JSON (null for 204), rejects with an ApiError.
 * @param {string} method
 * @param {string} path starting with /api/
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (UNSAFE.has(method) && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new ApiError(
      0,
      'NETWORK',
      'The connector did not answer. Is it running? Try again in a moment.',
    );
  }
  if (res.status === 204) return null;
  const text = await res.text();
  /** @type {any} */
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (res.ok) {
    if (json === null && text)
      throw new ApiError(
        res.status,
        'UNEXPECTED',
        `Unexpected answer from the connector (HTTP ${res.status}).`,
      );
    return json;
  }
  const err = json && typeof json === 'object' && json.error ? json.error : null;
  const apiError = new ApiError(
    res.status,
    err?.code ?? 'UNEXPECTED',
    err?.message ?? `The connector answered HTTP ${res.status}.`,
    err?.details ?? {},
  );
  if (res.status === 401 && !(method === 'POST' && path === '/api/session')) onSessionEnded();
  throw apiError;
}

/** Path of an organization's Salesforce API. @param {string} orgId @param {string} [rest] */
export function sfPath(orgId, rest = '') {
  return `/api/orgs/${encodeURIComponent(orgId)}/salesforce${rest}`;
}
