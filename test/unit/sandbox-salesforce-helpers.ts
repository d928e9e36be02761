import { Connection, OAuth2 } from 'jsforce';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import type { SalesforceSandbox, SalesforceSandboxOptions } from '../../src/sandbox/salesforce';

export const REDIRECT_URI = 'http://localhost:3999/oauth/callback';

export async function startSandbox(
  options: SalesforceSandboxOptions = {},
): Promise<SalesforceSandbox> {
  return startSalesforceSandbox({ bulkPollDelayMs: 20, ...options });
}

export function oauth2For(sb: SalesforceSandbox, useVerifier = true): OAuth2 {
  return new OAuth2({
    clientId: sb.clientId,
    clientSecret: sb.clientSecret,
    redirectUri: REDIRECT_URI,
    loginUrl: sb.loginUrl,
    useVerifier,
  });
}

/**
 * The browser's part of the authorization-code flow: follow the authorize URL jsforce built
 * and read the code from the redirect. Everything else goes through jsforce.
 */
export async function browserApprove(authorizeUrl: string): Promise<URL> {
  const res = await fetch(authorizeUrl, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}: ${await res.text()}`);
  return new URL(res.headers.get('location')!);
}

/** A jsforce Connection authorised with the authorization-code + PKCE flow, as the connector does. */
export async function connect(sb: SalesforceSandbox): Promise<Connection> {
  const oauth2 = oauth2For(sb);
  const conn = new Connection({
    oauth2,
    loginUrl: sb.loginUrl,
    version: '62.0',
    callOptions: { client: 'InitLiveSync' },
  });
  const redirect = await browserApprove(oauth2.getAuthorizationUrl({ state: 'xyz' }));
  await conn.authorize(redirect.searchParams.get('code')!);
  return conn;
}

/** Runs `fn` and returns what it threw (fails the test when it does not throw). */
export async function caught(
  fn: () => PromiseLike<unknown>,
): Promise<{ errorCode?: string; name?: string; message: string; data?: unknown }> {
  try {
    await fn();
  } catch (err) {
    return err as { errorCode?: string; name?: string; message: string; data?: unknown };
  }
  throw new Error('expected a failure');
}

export function staff(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    InitLive_Staff_Id__c: `S-${String(i).padStart(5, '0')}`,
    FirstName: `First${i}`,
    LastName: `Last${i}`,
    Email: `person${i}@example.org`,
    ...extra,
  };
}
