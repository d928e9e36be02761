import { loadConfig } from '../config';
import { isSyncError } from '../errors';
import { createLogger } from '../logger';
import { startSandboxes } from './start-sandboxes';

/** `npm run sandbox`: both emulators alone, for trying clients against them. */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.LOG_LEVEL });
  const sandboxes = await startSandboxes(config, logger);
  const sf = sandboxes.salesforce;
  const il = sandboxes.initlive;
  process.stdout.write(
    [
      '',
      'Sandboxes running (Ctrl-C stops them):',
      `  Salesforce  ${sf.url}`,
      `    login URL / instance URL: ${sf.loginUrl}`,
      `    client id ${config.SANDBOX_SALESFORCE_CLIENT_ID}, client secret ${config.SANDBOX_SALESFORCE_CLIENT_SECRET}`,
      `    user ${config.SANDBOX_SALESFORCE_USERNAME}, password ${config.SANDBOX_SALESFORCE_PASSWORD}`,
      `  InitLive    ${il.baseUrl}/api/v1`,
      `    organization ${config.SANDBOX_INITLIVE_ORG_ID}, integration key ${config.SANDBOX_INITLIVE_API_KEY}`,
      '',
    ].join('\n') + '\n',
  );
  const stop = (): void => {
    void sandboxes.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${isSyncError(err) ? err.message : String(err)}\n`);
  process.exit(1);
});
