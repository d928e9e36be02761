import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { closeRedis, createRedis, deleteByPrefix } from '../src/infra/redis/connect';
import { linkedMarkerName } from '../src/core/position-store';
import { startInitLiveSandbox } from '../src/sandbox/initlive';
import { startSalesforceSandbox, type ContactWriteEvent } from '../src/sandbox/salesforce';
import { eventually, startE2E, type E2E } from '../test/fixtures/e2e';
import { DEPLOYED_HEAP_FLAG } from './deployed';
import {
  startConnectorProcess,
  type ConnectorProcess,
  type ConnectorProcessConfig,
} from './connector-process';

type SalesforceSandbox = E2E['sf'];
type InitLiveSandbox = E2E['il'];

/**
 * Streaming benchmarks: bursts of changes from one sandbox to the other through the whole
 * pipeline, and a steady rate with latency percentiles. Latency is measured from the moment
 * a change is committed in one sandbox to the moment our write is committed in the other
 * (both sandboxes run in this process, on one clock; the steady run's connector runs in
 * processes of its own on Kafka, the registry and Redis).
 */

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** The product's sink settings (its default linger), unless BENCH_LINGER_MS says otherwise. */
function sinkOptions(): { lingerMs?: number } {
  const linger = process.env.BENCH_LINGER_MS;
  return linger ? { lingerMs: Number(linger) } : {};
}

export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

export interface BurstResult {
  direction: string;
  changes: number;
  wallMs: number;
  perSecond: number;
  latencyMs: Percentiles;
  salesforceApiCallsPer1000: number;
}

function onSalesforceWrites(e: E2E, fn: (events: ContactWriteEvent[]) => void): () => void {
  return e.sf.control.onWrite((events) => fn(events.filter((ev) => ev.client === 'InitLiveSync')));
}

/** 10,000 staff created in InitLive, until every Contact is in Salesforce. */
export async function burstInitLiveToSalesforce(
  real: boolean,
  count: number,
): Promise<BurstResult> {
  const e = await startE2E({
    real,
    direction: 'initlive_to_salesforce',
    pipeline: { salesforceSink: sinkOptions() },
  });
  try {
    const createdAt = new Map<string, number>();
    const latencies: number[] = [];
    const off = onSalesforceWrites(e, (events) => {
      for (const ev of events) {
        const staffId = ev.after?.InitLive_Staff_Id__c;
        const t0 = typeof staffId === 'string' ? createdAt.get(staffId) : undefined;
        if (t0 !== undefined && ev.changeType === 'CREATE') latencies.push(ev.commitTimestamp - t0);
      }
    });
    // Connecting starts a full sync, which leaves this marker; without it the sink looks up
    // the email of every create first (one query per 200), as for an organization never synced.
    await e.runtime.deps.positions.set(linkedMarkerName(e.org.orgId), 'bench-first-sync');
    const calls0 = e.sf.control.counters().apiCallsUsed;
    const stamp = randomUUID().slice(0, 6);
    const started = Date.now();
    for (let i = 0; i < count; i++) {
      const s = e.il.control.createStaff({
        firstName: 'Bench',
        lastName: `L${i}`,
        email: `b${i}-${stamp}@example.org`,
        phone: '+1 555 0100',
      });
      createdAt.set(s.id, Date.now());
    }
    await eventually(
      () => {
        if (latencies.length < count) throw new Error(`${latencies.length}/${count}`);
      },
      600_000,
      100,
    );
    const wallMs = Date.now() - started;
    off();
    return {
      direction: 'InitLive -> Salesforce',
      changes: count,
      wallMs,
      perSecond: Math.round((count / wallMs) * 1000),
      latencyMs: percentiles(latencies),
      salesforceApiCallsPer1000: ((e.sf.control.counters().apiCallsUsed - calls0) / count) * 1000,
    };
  } finally {
    await e.close();
  }
}

/** 10,000 Contacts created in Salesforce (as UI users), until every staff member exists in InitLive. */
export async function burstSalesforceToInitLive(
  real: boolean,
  count: number,
): Promise<BurstResult> {
  const e = await startE2E({ real, direction: 'salesforce_to_initlive' });
  try {
    const committedAt = new Map<string, number>();
    const offSf = e.sf.control.onWrite((events) => {
      for (const ev of events)
        if (ev.changeType === 'CREATE' && ev.client === null)
          committedAt.set(String(ev.after?.Email), ev.commitTimestamp);
    });
    const calls0 = e.sf.control.counters().apiCallsUsed;
    const stamp = randomUUID().slice(0, 6);
    const started = Date.now();
    for (let i = 0; i < count; i++)
      e.sf.control.createContact({
        FirstName: 'Bench',
        LastName: `S${i}`,
        Email: `s${i}-${stamp}@example.org`,
      });
    let latencies: number[] = [];
    await eventually(
      () => {
        const staff = e.il.control
          .listStaff()
          .filter((s) => s.email?.endsWith(`-${stamp}@example.org`));
        if (staff.length < count) throw new Error(`${staff.length}/${count}`);
        latencies = staff.map((s) => Date.parse(s.createdAt) - (committedAt.get(s.email!) ?? NaN));
      },
      600_000,
      250,
    );
    const wallMs = Date.now() - started;
    offSf();
    return {
      direction: 'Salesforce -> InitLive',
      changes: count,
      wallMs,
      perSecond: Math.round((count / wallMs) * 1000),
      latencyMs: percentiles(latencies),
      salesforceApiCallsPer1000: ((e.sf.control.counters().apiCallsUsed - calls0) / count) * 1000,
    };
  } finally {
    await e.close();
  }
}

export interface SteadyResult {
  ratePerSecond: number;
  seconds: number;
  changes: number;
  applied: number;
  latencyMs: Percentiles;
  /**
   * Whose RSS `rssMb` is: the connector's own process (with Kafka, the registry and Redis, the
   * connector runs in child processes and the sandboxes stay in the bench process), or the bench
   * process holding connector and sandboxes (`--memory`). With several connector processes, the
   * largest of them.
   */
  rssOf: 'connector process' | 'bench process (connector and sandboxes)';
  rssMb: { start: number; end: number; peak: number; firstHalfMax: number; secondHalfMax: number };
  /** secondHalfMax / firstHalfMax - 1: how much the connector grew over the run. */
  rssGrowth: number;
  salesforceApiCallsPer1000: number;
  /** Salesforce calls during the steady part, by endpoint: where the calls per 1,000 go. */
  salesforceCallsByEndpoint: Record<string, number>;
  /** Contact writes per write call (each call's records, in buckets), during the steady part. */
  writesPerCall: Record<string, number>;
  /**
   * Connector CPU (user + system, every connector process) per 1,000 changes during the steady
   * part: read, reconcile and write. Null when the connector shares the bench process.
   */
  cpuMsPer1000Changes: number | null;
  /** Per connector process, what it did during the steady part (the consumer group's split). */
  processes: Array<{
    pid: number;
    cpuMs: number;
    sourceRecords: number;
    reconciled: number;
    sinkRecords: number;
    sourcesHeld: number;
    peakRssMb: number;
  }>;
  /** Each process's share of the decisions, and of the sink writes. */
  split: { reconciled: number[]; sinkRecords: number[] } | null;
}

/** Endpoint counts that grew between two readings of the sandbox's counters. */
function endpointDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after))
    if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

function sizeBucket(n: number): string {
  if (n >= 200) return '200';
  if (n >= 150) return '150-199';
  if (n >= 100) return '100-149';
  if (n >= 50) return '50-99';
  return '1-49';
}

/** Two sandboxes and a connector, wherever the connector runs. */
interface SteadyStage {
  sf: SalesforceSandbox;
  il: InitLiveSandbox;
  /** Connector processes (empty when the connector runs in this process). */
  connectors: ConnectorProcess[];
  close(): Promise<void>;
}

async function steadyStage(real: boolean, connectors: number): Promise<SteadyStage> {
  if (!real) {
    const e = await startE2E({
      real,
      direction: 'initlive_to_salesforce',
      pipeline: { salesforceSink: sinkOptions() },
    });
    return { sf: e.sf, il: e.il, connectors: [], close: () => e.close() };
  }
  const sf = await startSalesforceSandbox({ port: 0 });
  const il = await startInitLiveSandbox({ port: 0, rateLimit: false });
  const prefix = `steady-${randomUUID().slice(0, 8)}`;
  const config: ConnectorProcessConfig = {
    salesforce: {
      loginUrl: sf.loginUrl,
      clientId: sf.clientId,
      clientSecret: sf.clientSecret,
      username: sf.username,
      password: sf.password,
    },
    initliveBaseUrl: il.baseUrl,
    direction: 'initlive_to_salesforce',
    kafkaBrokers: (process.env.KAFKA_BROKERS ?? '').split(','),
    schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL!,
    redisUrl: process.env.REDIS_URL!,
    prefix,
    ...sinkOptions(),
    // The connector as deployed, whatever limit this process runs under.
    execArgv: [
      DEPLOYED_HEAP_FLAG,
      // e.g. BENCH_CONNECTOR_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the connector.
      ...(process.env.BENCH_CONNECTOR_FLAGS ?? '').split(' ').filter(Boolean),
    ],
  };
  const started: ConnectorProcess[] = [];
  try {
    for (let i = 0; i < connectors; i++) started.push(await startConnectorProcess(config));
  } catch (err) {
    await Promise.allSettled(started.map((c) => c.close()));
    await Promise.allSettled([sf.close(), il.close()]);
    throw err;
  }
  return {
    sf,
    il,
    connectors: started,
    close: async () => {
      await Promise.allSettled(started.map((c) => c.close()));
      const redis = createRedis(process.env.REDIS_URL!, { connectionName: 'bench-cleanup' });
      await deleteByPrefix(redis, `${prefix}:`).finally(() => closeRedis(redis));
      await Promise.allSettled([sf.close(), il.close()]);
    },
  };
}

/**
 * A steady rate of InitLive updates to existing, linked staff, with latency to Salesforce. On
 * Kafka, the registry and Redis the connector runs in `connectors` processes of its own (one
 * consumer group), so its RSS and CPU are its own.
 */
export async function steadyInitLiveToSalesforce(
  real: boolean,
  ratePerSecond: number,
  seconds: number,
  connectors = 1,
): Promise<SteadyResult> {
  const stage = await steadyStage(real, connectors);
  const { sf, il } = stage;
  const samples: Array<{ t: number; rssMb: number }> = [];
  const peaks = new Map<number, number>();
  let sampling = true;
  const sampleOnce = async (): Promise<void> => {
    if (stage.connectors.length === 0) {
      samples.push({ t: Date.now(), rssMb: process.memoryUsage().rss / 2 ** 20 });
      return;
    }
    const now = await Promise.all(stage.connectors.map((c) => c.sample()));
    for (const n of now) peaks.set(n.pid, Math.max(peaks.get(n.pid) ?? 0, n.rssMb));
    samples.push({ t: Date.now(), rssMb: Math.max(...now.map((n) => n.rssMb)) });
  };
  const sampler = (async () => {
    while (sampling) {
      await sampleOnce().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  try {
    const stamp = randomUUID().slice(0, 6);
    const population = 2000;
    const ids: string[] = [];
    for (let i = 0; i < population; i++)
      ids.push(
        il.control.createStaff({
          firstName: 'Steady',
          lastName: `P${i}`,
          email: `p${i}-${stamp}@example.org`,
        }).id,
      );
    await eventually(
      () => {
        const n = sf.control
          .listContacts()
          .filter((c) => String(c.Email).endsWith(`-${stamp}@example.org`)).length;
        if (n < population) throw new Error(`${n}/${population}`);
      },
      300_000,
      200,
    );
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    const ours = (events: ContactWriteEvent[]): ContactWriteEvent[] =>
      events.filter((ev) => ev.client === 'InitLiveSync');
    const writesPerCall: Record<string, number> = {};
    const off = sf.control.onWrite((all) => {
      const events = ours(all);
      if (events.length > 0) {
        const bucket = sizeBucket(events.length);
        writesPerCall[bucket] = (writesPerCall[bucket] ?? 0) + 1;
      }
      for (const ev of events) {
        const phone = ev.after?.Phone;
        const t0 = typeof phone === 'string' ? sentAt.get(phone) : undefined;
        if (t0 !== undefined) {
          latencies.push(ev.commitTimestamp - t0);
          sentAt.delete(phone as string);
        }
      }
    });
    const counters0 = sf.control.counters();
    const before = await Promise.all(stage.connectors.map((c) => c.sample()));
    samples.length = 0;
    const total = ratePerSecond * seconds;
    const started = Date.now();
    let sent = 0;
    // Send in 20 ms slices so the rate is smooth, catching up if a slice ran late.
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * ratePerSecond));
      for (; sent < due; sent++) {
        const phone = `+1 ${String(sent).padStart(9, '0')}`;
        sentAt.set(phone, Date.now());
        il.control.updateStaff(ids[sent % population]!, { phone });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await eventually(
      () => {
        // Updates to the same person inside one batch coalesce: only the last phone lands.
        if (sentAt.size > population) throw new Error(`${sentAt.size} outstanding`);
      },
      120_000,
      100,
    );
    await new Promise((r) => setTimeout(r, 2000));
    sampling = false;
    await sampler;
    off();
    const after = await Promise.all(stage.connectors.map((c) => c.sample()));
    const counters1 = sf.control.counters();
    const half = started + (seconds * 1000) / 2;
    const first = samples.filter((s) => s.t < half).map((s) => s.rssMb);
    const second = samples.filter((s) => s.t >= half).map((s) => s.rssMb);
    const processes = after.map((a, i) => {
      const b = before[i]!;
      return {
        pid: a.pid,
        cpuMs: a.cpuMs - b.cpuMs,
        sourceRecords: a.sourceRecords - b.sourceRecords,
        reconciled: a.reconciled - b.reconciled,
        sinkRecords: a.sinkRecords - b.sinkRecords,
        sourcesHeld: a.sourcesHeld,
        peakRssMb: peaks.get(a.pid) ?? a.rssMb,
      };
    });
    const shares = (pick: (p: (typeof processes)[number]) => number): number[] => {
      const sum = processes.reduce((n, p) => n + pick(p), 0);
      return processes.map((p) => Math.round((pick(p) / Math.max(1, sum)) * 1000) / 1000);
    };
    const firstHalfMax = Math.max(...first);
    const secondHalfMax = Math.max(...second);
    return {
      ratePerSecond,
      seconds,
      changes: total,
      applied: latencies.length,
      latencyMs: percentiles(latencies),
      rssOf:
        stage.connectors.length > 0
          ? 'connector process'
          : 'bench process (connector and sandboxes)',
      rssMb: {
        start: Math.round(samples[0]?.rssMb ?? 0),
        end: Math.round(samples[samples.length - 1]?.rssMb ?? 0),
        peak: Math.round(Math.max(...samples.map((x) => x.rssMb))),
        firstHalfMax: Math.round(firstHalfMax),
        secondHalfMax: Math.round(secondHalfMax),
      },
      rssGrowth: Math.round((secondHalfMax / firstHalfMax - 1) * 1000) / 1000,
      salesforceApiCallsPer1000: ((counters1.apiCallsUsed - counters0.apiCallsUsed) / total) * 1000,
      salesforceCallsByEndpoint: endpointDelta(counters0.endpoints, counters1.endpoints),
      writesPerCall,
      cpuMsPer1000Changes:
        processes.length > 0
          ? Math.round((processes.reduce((n, p) => n + p.cpuMs, 0) / total) * 1000)
          : null,
      processes,
      split:
        processes.length > 1
          ? { reconciled: shares((p) => p.reconciled), sinkRecords: shares((p) => p.sinkRecords) }
          : null,
    };
  } finally {
    sampling = false;
    await sampler;
    await stage.close();
  }
}

/** kafkajs alone on the same broker: produce then consume N records, the transport's ceiling. */
export async function rawKafkaPassThrough(
  brokers: string[],
  count: number,
): Promise<{ perSecond: number; wallMs: number }> {
  const kafka = new Kafka({ clientId: 'bench-raw', brokers, logLevel: logLevel.NOTHING });
  const topic = `bench-raw-${randomUUID().slice(0, 8)}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId: `${topic}-g` });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let received = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      received += batch.messages.length;
      if (received >= count) done();
    },
  });
  const value = Buffer.alloc(200, 1);
  const started = Date.now();
  for (let i = 0; i < count; i += 500) {
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: Math.min(500, count - i) }, (_, j) => ({
        key: `k${i + j}`,
        value,
      })),
    });
  }
  await finished;
  const wallMs = Date.now() - started;
  await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  return { perSecond: Math.round((count / wallMs) * 1000), wallMs };
}
