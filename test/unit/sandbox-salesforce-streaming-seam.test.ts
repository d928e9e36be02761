import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { connect, staff, startSandbox } from './sandbox-salesforce-helpers';

interface CdcMessage {
  payload: {
    ChangeEventHeader: {
      changeType: string;
      changeOrigin: string;
      recordIds: string[];
      commitUser: string;
    };
  };
}

describe('Salesforce sandbox: data side feeds CDC (through jsforce streaming)', () => {
  let sb: SalesforceSandbox;
  afterEach(async () => {
    await sb.close();
  });

  test('a REST upsert reaches a jsforce CometD subscriber with the call options client', async () => {
    sb = await startSandbox();
    const conn = await connect(sb);
    const client = conn.streaming.createClient([]);
    const received: CdcMessage[] = [];
    const arrived = new Promise<void>((resolve) => {
      const sub = client.subscribe('/data/ContactChangeEvent', (m: CdcMessage) => {
        received.push(m);
        resolve();
      });
      void sub.then(async () => {
        await conn.sobject('Contact').upsert([staff(1)], 'InitLive_Staff_Id__c');
      });
    });
    await arrived;
    expect(sb.control.counters().cometdClients).toBe(1);
    // jsforce's bundled faye typings omit disconnect(); faye has it.
    (client as unknown as { disconnect(): void }).disconnect();
    // The disconnect is asynchronous; the org forgets the Bayeux client once it lands.
    for (let i = 0; i < 100 && sb.control.counters().cometdClients > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(sb.control.counters().cometdClients).toBe(0);
    const header = received[0]!.payload.ChangeEventHeader;
    expect(header.changeType).toBe('CREATE');
    expect(header.changeOrigin).toBe('com/salesforce/api/rest/62.0;client=InitLiveSync');
    expect(header.commitUser).toBe(sb.userId);
    expect(header.recordIds).toEqual([sb.control.listContacts()[0]!.Id]);
  });
});
