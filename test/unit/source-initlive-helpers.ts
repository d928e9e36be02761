import { randomBytes } from 'node:crypto';
import { defaultMapping } from '../../src/core/mapping';
import type { RecordTypes } from '../../src/core/records';
import { topicNames, topicRoles } from '../../src/core/topics';
import type { TopicRole } from '../../src/core/topics';
import type { OutgoingRecord, Subscription, Transport } from '../../src/core/transport';
import { SyncError } from '../../src/errors';
import { createEmbeddedCodec } from '../../src/infra/avro/avro-codec';
import { createInitLiveClient } from '../../src/infra/initlive';
import type { InitLiveApi } from '../../src/infra/initlive';
import { MemoryPositionStore } from '../../src/infra/memory/memory-position-store';
import { MemoryTransport } from '../../src/infra/memory/memory-transport';
import { MemoryVersionStore } from '../../src/infra/memory/memory-version-store';
import { silentLogger } from '../../src/logger';
import { StaticOrgDirectory } from '../../src/orgs/org-directory';
import type { OrgRuntime } from '../../src/orgs/org-directory';
import type { PipelineDeps } from '../../src/pipeline/deps';
import { SyncEvents } from '../../src/pipeline/events';
import type { RetryPolicy } from '../../src/retry';

/** Test helpers shared by the InitLive source and sink unit tests. */

export const ORIGIN = 'salesforce-sync';
export const ORG_ID = 'org_demo';

export const tinyRetry: RetryPolicy = {
  maxAttempts: 3,
  initialDelayMs: 1,
  maxDelayMs: 5,
  factor: 2,
  jitter: 0,
};

/** A memory transport whose next `failSends` sends to `topic` reject before storing anything. */
export class FlakyTransport implements Transport {
  failSends = 0;
  failTopic: string | null = null;
  failures = 0;

  constructor(readonly inner: MemoryTransport) {}

  ensureTopics: Transport['ensureTopics'] = (t) => this.inner.ensureTopics(t);
  subscribe: Transport['subscribe'] = (o) => this.inner.subscribe(o);
  lag: Transport['lag'] = (g, t) => this.inner.lag(g, t);
  readLatest: Transport['readLatest'] = (topic) => this.inner.readLatest(topic);
  readFrom: Transport['readFrom'] = (topic, from, keep) => this.inner.readFrom(topic, from, keep);
  close: Transport['close'] = () => this.inner.close();

  async send(topic: string, records: OutgoingRecord[]): Promise<void> {
    if (this.failSends > 0 && (this.failTopic === null || topic === this.failTopic)) {
      this.failSends--;
      this.failures++;
      throw new SyncError('TRANSPORT_UNAVAILABLE', 'injected send failure', { retriable: true });
    }
    await this.inner.send(topic, records);
  }
}

export function client(
  baseUrl: string,
  extra: Partial<Parameters<typeof createInitLiveClient>[0]> = {},
): InitLiveApi {
  return createInitLiveClient({
    baseUrl,
    apiKey: 'sandbox-key',
    orgId: ORG_ID,
    changeOrigin: ORIGIN,
    retryPolicy: tinyRetry,
    ...extra,
  });
}

export function orgRuntime(initlive: InitLiveApi, orgId = ORG_ID): OrgRuntime {
  return {
    orgId,
    settings: {
      direction: 'two_way',
      defaultSystem: 'initlive',
      deletePolicy: 'archive',
      mapping: defaultMapping,
    },
    streaming: true,
    salesforce: null,
    initlive,
    initliveOrigin: ORIGIN,
    salesforceClientTag: 'initlive-sync',
  };
}

export interface TestPipeline {
  deps: PipelineDeps;
  memory: MemoryTransport;
  flaky: FlakyTransport;
  positions: MemoryPositionStore;
  store: MemoryVersionStore;
  events: SyncEvents;
}

export async function testPipeline(orgs: OrgRuntime[], partitions = 1): Promise<TestPipeline> {
  const memory = new MemoryTransport({
    redeliveryBackoff: {
      maxAttempts: Number.POSITIVE_INFINITY,
      initialDelayMs: 5,
      maxDelayMs: 20,
      factor: 2,
      jitter: 0,
    },
  });
  const flaky = new FlakyTransport(memory);
  const topics = topicNames(`t${randomBytes(4).toString('hex')}`);
  await memory.ensureTopics(Object.values(topics).map((name) => ({ name, partitions })));
  const positions = new MemoryPositionStore();
  const store = new MemoryVersionStore();
  const events = new SyncEvents();
  const deps: PipelineDeps = {
    transport: flaky,
    codec: createEmbeddedCodec(),
    store,
    positions,
    orgs: new StaticOrgDirectory(orgs),
    topics,
    logger: silentLogger,
    events,
    groupPrefix: `g${randomBytes(4).toString('hex')}`,
    now: Date.now,
  };
  return { deps, memory, flaky, positions, store, events };
}

export interface Collected<T> {
  values: Array<T & { key: string }>;
  stop(): Promise<void>;
}

/** Decodes everything on a topic, from its beginning, into `values` as it arrives. */
export async function collect<R extends TopicRole>(
  deps: PipelineDeps,
  role: R,
): Promise<Collected<RecordTypes[(typeof topicRoles)[R]]>> {
  const values: Array<RecordTypes[(typeof topicRoles)[R]] & { key: string }> = [];
  const type = topicRoles[role];
  const sub: Subscription = await deps.transport.subscribe({
    groupId: `collect-${role}-${randomBytes(4).toString('hex')}`,
    topics: [deps.topics[role]],
    fromBeginning: true,
    handleBatch: async (batch) => {
      for (const r of batch.records) {
        const value = await deps.codec.decode<(typeof topicRoles)[R]>(type, r.value);
        values.push({ ...value, key: r.key });
      }
    },
  });
  return { values, stop: () => sub.stop() };
}

/** Polls `check` until it returns true, or fails with `what` after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const fastBackoff: RetryPolicy = {
  maxAttempts: Number.POSITIVE_INFINITY,
  initialDelayMs: 10,
  maxDelayMs: 50,
  factor: 2,
  jitter: 0,
};
