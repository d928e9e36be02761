import { Connection } from 'jsforce';
import { Transport } from 'jsforce/lib/transport';
import type { Logger } from '../../logger';

/** What it takes to talk to one Salesforce org; tokens come from the OAuth flow. */
export interface SalesforceCredentials {
  instanceUrl: string;
  accessToken: string;
  /** Absent for client_credentials / JWT bearer, which mint a new token instead. */
  refreshToken?: string;
  /** Token endpoint base, e.g. https://login.salesforce.com or the sandbox URL. */
  loginUrl: string;
  clientId: string;
  clientSecret?: string;
  redirectUri?: string;
}

export interface SalesforceConnectionOptions {
  credentials: SalesforceCredentials;
  /** Pinned: jsforce defaults to 50.0. */
  apiVersion: string;
  /** Sent on every call as Sforce-Call-Options client=<tag>; CDC echoes carry it back. */
  clientTag: string;
  logger: Logger;
  /** Told of every new access token, so it can be stored (and streaming clients rebuilt). */
  onRefresh?: (accessToken: string) => void;
  /**
   * Mints a new access token when there is no refresh token (JWT bearer, client credentials).
   * Without it jsforce uses the refresh_token grant.
   */
  mintAccessToken?: () => Promise<string>;
  /** Told the org's API usage from the Sforce-Limit-Info header of every answer, reads too. */
  onApiUsage?: (usage: { used: number; max: number }) => void;
  /**
   * How long one call may wait for Salesforce's answer, jsforce's own retries included, before
   * it fails as unreachable (retried by the caller). Default 120 s; jsforce's is 30 minutes.
   */
  requestTimeoutMs?: number;
}

export const DEFAULT_SALESFORCE_REQUEST_TIMEOUT_MS = 120_000;

/**
 * jsforce's transport with a deadline on every request. jsforce waits up to 30 minutes for an
 * answer and offers no per-connection setting (only a process-wide default), so a connection
 * that is cut without a reset (a silent network, a stalled proxy) would hold a sink's flush,
 * and with it its partitions, for half an hour.
 */
class DeadlineTransport extends Transport {
  constructor(private readonly timeoutMs: number) {
    super();
  }
  override httpRequest(...[req, options]: Parameters<Transport['httpRequest']>) {
    return super.httpRequest(req, { timeout: this.timeoutMs, ...options });
  }
}

/**
 * One jsforce Connection for an org. jsforce refreshes the access token on a 401 by itself
 * (refresh_token grant) and retries the call; we only need to hear about the new token.
 * Tokens are registered with the logger so they can never be printed.
 */
export function createSalesforceConnection(options: SalesforceConnectionOptions): Connection {
  const { credentials: c, logger } = options;
  logger.redact(c.accessToken);
  logger.redact(c.refreshToken);
  logger.redact(c.clientSecret);
  const conn = new Connection({
    instanceUrl: c.instanceUrl,
    accessToken: c.accessToken,
    ...(c.refreshToken ? { refreshToken: c.refreshToken } : {}),
    oauth2: {
      clientId: c.clientId,
      ...(c.clientSecret ? { clientSecret: c.clientSecret } : {}),
      loginUrl: c.loginUrl,
      ...(c.redirectUri ? { redirectUri: c.redirectUri } : {}),
    },
    version: options.apiVersion,
    callOptions: { client: options.clientTag },
    ...(options.mintAccessToken
      ? {
          refreshFn: (
            _conn: unknown,
            callback: (err: Error | null, accessToken?: string) => void,
          ) => {
            options.mintAccessToken!().then(
              (token) => callback(null, token),
              (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
            );
          },
        }
      : {}),
  });
  const transport = new DeadlineTransport(
    options.requestTimeoutMs ?? DEFAULT_SALESFORCE_REQUEST_TIMEOUT_MS,
  );
  // Every call of the connection, and token refreshes (jsforce's OAuth2 has its own).
  conn._transport = transport;
  conn.oauth2._transport = transport;
  if (options.onApiUsage) reportLimitInfo(conn, options.onApiUsage);
  conn.on('refresh', (accessToken: string) => {
    logger.redact(accessToken);
    logger.info('salesforce access token refreshed');
    options.onRefresh?.(accessToken);
  });
  return conn;
}

/**
 * jsforce keeps the Sforce-Limit-Info of each answer in `conn.limitInfo`, whichever API made the
 * call (queries, collections, Bulk, limits): a setter on it hears every one.
 */
function reportLimitInfo(
  conn: Connection,
  onApiUsage: (usage: { used: number; max: number }) => void,
): void {
  let info: Connection['limitInfo'] = conn.limitInfo;
  Object.defineProperty(conn, 'limitInfo', {
    configurable: true,
    enumerable: true,
    get: () => info,
    set: (next: Connection['limitInfo']) => {
      info = next;
      const usage = next?.apiUsage;
      if (usage) onApiUsage({ used: usage.used, max: usage.limit });
    },
  });
}
