import { Connection } from 'jsforce';
import { packageFields } from '../core/mapping';
import { toSyncError } from '../errors';
import type { Logger } from '../logger';
import type { TokenSet } from '../orgs/salesforce-oauth';

/**
 * Whether our package's custom fields exist on Contact, with a just-issued token (one describe
 * call). Undefined when it cannot be told (the check failed for another reason): connecting
 * should not fail on a check.
 */
export async function packageInstalled(
  tokens: TokenSet,
  apiVersion: string,
  logger: Logger,
): Promise<boolean | undefined> {
  const conn = new Connection({
    instanceUrl: tokens.instanceUrl,
    accessToken: tokens.accessToken,
    version: apiVersion,
  });
  try {
    const describe = await conn.sobject('Contact').describe();
    const names = new Set(describe.fields.map((f) => f.name.toLowerCase()));
    return packageFields.every((f) => names.has(f.toLowerCase()));
  } catch (err) {
    logger.warn('package check failed; assuming installed', { err: toSyncError(err) });
    return undefined;
  }
}
