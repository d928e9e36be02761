import type { Connection } from 'jsforce';
import { createSalesforceConnection } from '../../src/infra/salesforce/connection';
import { createSalesforceApi } from '../../src/infra/salesforce/salesforce-api';
import { toSalesforceError } from '../../src/infra/salesforce/salesforce-errors';
import { createLogger } from '../../src/logger';
import { fastRetryPolicy } from '../../src/retry';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../src/sandbox/salesforce';
import { SalesforceSink } from '../../src/sink/salesforce-sink';
import { collect } from '../fixtures/pipeline-deps';
import { startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy';
import {
  CLIENT_TAG,
  authorize,
  groupLag,
  memoryPipeline,
  testLogger,
  orgRuntime,
  produceWrites,
  upsertWrite,
  waitFor,
  waitUntil,
} from './sink-salesforce-fixture';

// A network that goes silent (no reset, no refusal) is only ever ended by a deadline: jsforce's
// own is 30 minutes, during which a sink's flush and its partitions would wait.
describe('a cut network between the connector and Salesforce', () => {
  let sb: SalesforceSandbox;
  let proxy: TcpProxy;
  let sink: SalesforceSink | undefined;

  beforeEach(async () => {
    sb = await startSalesforceSandbox({ streaming: false });
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(sb.url).port) });
  });

  afterEach(async () => {
    await sink?.stop();
    sink = undefined;
    await proxy.close();
    await sb.close();
  });

  const connectionViaProxy = async (requestTimeoutMs: number): Promise<Connection> => {
    const credentials = await authorize(sb);
    return createSalesforceConnection({
      credentials: { ...credentials, instanceUrl: proxy.url, loginUrl: proxy.url },
      apiVersion: '62.0',
      clientTag: CLIENT_TAG,
      logger: testLogger,
      requestTimeoutMs,
    });
  };

  it('fails a call that gets no answer as unreachable after the connection deadline, and works again once the network does', async () => {
    const api = createSalesforceApi(await connectionViaProxy(400));
    await api.limits();

    proxy.mode('blackhole');
    const started = Date.now();
    const error = await api.limits().then(
      () => null,
      (err: unknown) => toSalesforceError(err),
    );
    expect(error?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error?.retriable).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(Date.now() - started).toBeLessThan(10_000);

    proxy.mode('pass');
    const limits = await api.limits();
    expect(limits.dailyApiRequests.max).toBeGreaterThan(0);
  });

  it('keeps the writes of a flush through a silent network and lands each once when it heals, without dead letters', async () => {
    const conn = await connectionViaProxy(300);
    const p = await memoryPipeline([orgRuntime(conn)], 1);
    const letters = await collect(p.deps, 'deadLetters');
    const warnings: string[] = [];
    const logger = createLogger({ level: 'warn', write: (line) => warnings.push(line) });
    const timedOut = (): number =>
      warnings.filter((l) => l.includes('retrying') && l.includes('UPSTREAM_UNAVAILABLE')).length;

    proxy.mode('blackhole');
    await produceWrites(
      p.deps,
      Array.from({ length: 10 }, (_, i) => upsertWrite(i)),
    );
    sink = new SalesforceSink(
      { ...p.deps, logger },
      { lingerMs: 20, retryPolicy: fastRetryPolicy },
    );
    await sink.start();
    // Calls went out and timed out while the network was silent; nothing reached Salesforce.
    await waitFor('two timed-out calls', () => timedOut() >= 2);
    expect(sb.control.listContacts()).toHaveLength(0);

    proxy.mode('pass');
    await waitFor('10 contacts', () => sb.control.listContacts().length === 10, 30_000);
    await waitUntil(
      'offsets committed',
      async () => (await groupLag(p.memory, sink!.groupId, p.deps.topics.salesforceWrites)) === 0,
    );
    expect(new Set(sb.control.listContacts().map((c) => c.InitLive_Staff_Id__c)).size).toBe(10);
    expect(letters.records).toHaveLength(0);
    await letters.stop();
    await p.memory.close();
  });
});
