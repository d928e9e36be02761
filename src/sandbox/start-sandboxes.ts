import type { Config } from '../config';
import type { Logger } from '../logger';
import { startInitLiveSandbox } from './initlive';
import { startSalesforceSandbox, type SalesforceSandbox } from './salesforce';
import { demoContacts } from './seed-contacts';

type InitLiveSandbox = Awaited<ReturnType<typeof startInitLiveSandbox>>;

export interface Sandboxes {
  salesforce: SalesforceSandbox;
  initlive: InitLiveSandbox;
  close(): Promise<void>;
}

/**
 * Both emulators, seeded with the same demo people: staff 0..N-1 in InitLive, contacts from
 * N/2 on in Salesforce, so the first half of the contacts share an email with a staff member.
 */
export async function startSandboxes(config: Config, logger: Logger): Promise<Sandboxes> {
  const stateFile = (side: string): string | undefined =>
    config.SANDBOX_STATE_FILE ? `${config.SANDBOX_STATE_FILE}.${side}.json` : undefined;
  const staffCount = config.SANDBOX_STAFF_COUNT;
  const salesforce = await startSalesforceSandbox({
    port: config.SANDBOX_SALESFORCE_PORT,
    clientId: config.SANDBOX_SALESFORCE_CLIENT_ID,
    clientSecret: config.SANDBOX_SALESFORCE_CLIENT_SECRET,
    username: config.SANDBOX_SALESFORCE_USERNAME,
    password: config.SANDBOX_SALESFORCE_PASSWORD,
    seed: demoContacts(config.SANDBOX_CONTACT_COUNT, {
      seed: 1,
      offset: Math.floor(staffCount / 2),
    }),
    ...(stateFile('salesforce') ? { stateFile: stateFile('salesforce') } : {}),
    packageInstalled: config.SANDBOX_SALESFORCE_PACKAGE === 'installed',
    changeDataCapture: config.SANDBOX_SALESFORCE_CDC === 'on',
  });
  try {
    const initlive = await startInitLiveSandbox({
      port: config.SANDBOX_INITLIVE_PORT,
      orgs: [
        {
          id: config.SANDBOX_INITLIVE_ORG_ID,
          name: 'Demo Volunteers',
          timezone: 'America/Vancouver',
          apiKey: config.SANDBOX_INITLIVE_API_KEY,
        },
      ],
      seed: { staffCount, seed: 1 },
      logger,
      ...(stateFile('initlive') ? { stateFile: stateFile('initlive') } : {}),
    });
    return {
      salesforce,
      initlive,
      close: async () => {
        await Promise.allSettled([initlive.close(), salesforce.close()]);
      },
    };
  } catch (err) {
    await salesforce.close();
    throw err;
  }
}
