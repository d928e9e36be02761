import { topicNames } from '../core/topics';
import { createEmbeddedCodec, createRegistryCodec, type AvroCodec } from '../infra/avro/avro-codec';
import type { Compatibility } from '../infra/avro/schema-source';
import { KafkaTransport } from '../infra/kafka/kafka-transport';
import { MemoryEmailIndex } from '../infra/memory/memory-email-index';
import { MemoryPositionStore } from '../infra/memory/memory-position-store';
import { MemoryTransport } from '../infra/memory/memory-transport';
import { MemoryVersionStore } from '../infra/memory/memory-version-store';
import { closeRedis, createRedis } from '../infra/redis/connect';
import { RedisEmailIndex } from '../infra/redis/redis-email-index';
import { RedisPositionStore } from '../infra/redis/redis-position-store';
import { RedisVersionStore } from '../infra/redis/redis-version-store';
import { toSyncError } from '../errors';
import type { Logger } from '../logger';
import type { OrgDirectory } from '../orgs/org-directory';
import type { ReconcilerDeps } from '../reconciler/reconciler';
import { retry, type RetryPolicy } from '../retry';
import { SyncEvents } from './events';
import { PendingChangeTransport } from './pending-changes';
import { StateWitness, stateWitnessTopic, stateWitnessTopicSpec } from './state-witness';
import { WitnessedPositionStore } from './witnessed-positions';
import type { PendingChangesView } from './pending-changes';

export interface RuntimeSettings {
  /** Kafka brokers; none means the in-memory transport (one process only). */
  kafkaBrokers?: string[];
  kafkaClientId: string;
  schemaRegistryUrl?: string;
  schemaCompatibility?: Compatibility;
  /** Subject prefix, so several deployments (or tests) can share one registry. */
  subjectPrefix?: string;
  redisUrl?: string;
  redisKeyPrefix: string;
  topicPrefix: string;
  topicPartitions: number;
  replicationFactor?: number;
  groupPrefix: string;
  /** Consumer-group session timeout (the Kafka transport's; heartbeats every third of it). */
  kafkaSessionTimeoutMs?: number;
  /** How long start-up waits for a broker or registry that is unavailable (default about 2 min). */
  startupRetry?: RetryPolicy;
}

/** About two minutes of attempts, at most 15 s apart: a broker or registry restarting comes back within it. */
const STARTUP_RETRY: RetryPolicy = {
  maxAttempts: 12,
  initialDelayMs: 500,
  maxDelayMs: 15_000,
  factor: 2,
  jitter: 0.2,
};

export interface Runtime {
  deps: ReconcilerDeps;
  /** 'kafka+redis' or 'memory', for the start-up banner and the benchmarks. */
  mode: string;
  /**
   * The copy of the state epoch, connections and source positions outside Redis; with Kafka
   * and Redis only (an in-memory store cannot lose its data without the process).
   */
  stateWitness: StateWitness | null;
  /** The oldest change each stage holds, per organization (for the metrics). */
  pendingChanges: PendingChangesView;
  /** Transport and store answer (for /readyz). */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Builds the pipeline's infrastructure from settings: Kafka, the schema registry and Redis when
 * configured, the in-memory transport, codec and stores otherwise. Everything downstream is
 * the same code either way. Creates every topic with its partition count.
 */
export async function createRuntime(
  settings: RuntimeSettings,
  orgs: OrgDirectory,
  logger: Logger,
): Promise<Runtime> {
  const topics = topicNames(settings.topicPrefix);
  const real = Boolean(settings.kafkaBrokers && settings.kafkaBrokers.length > 0);
  const rawTransport = real
    ? new KafkaTransport({
        brokers: settings.kafkaBrokers!,
        clientId: settings.kafkaClientId,
        logger: logger.child({ component: 'kafka' }),
        ...(settings.replicationFactor !== undefined
          ? { replicationFactor: settings.replicationFactor }
          : {}),
        ...(settings.kafkaSessionTimeoutMs !== undefined
          ? {
              consumer: {
                sessionTimeoutMs: settings.kafkaSessionTimeoutMs,
                heartbeatIntervalMs: Math.floor(settings.kafkaSessionTimeoutMs / 3),
              },
            }
          : {}),
      })
    : // One process keeps running for days in the embedded mode: records every group has
      // committed past are dropped, so memory stays bounded.
      new MemoryTransport({
        logger: logger.child({ component: 'memory-transport' }),
        dropCommitted: true,
      });
  // The change and write topics: what a stage holds there is a change not yet applied.
  const transport = new PendingChangeTransport(rawTransport, {
    topics: [
      topics.staffChanges,
      topics.contactChanges,
      topics.salesforceWrites,
      topics.initliveWrites,
    ],
  });
  let codec: AvroCodec;
  if (real) {
    if (!settings.schemaRegistryUrl) throw new Error('a schema registry is required with Kafka');
    codec = createRegistryCodec(
      settings.schemaRegistryUrl,
      settings.schemaCompatibility ?? 'BACKWARD',
      {
        subjectPrefix: settings.subjectPrefix ?? '',
      },
    );
  } else {
    codec = createEmbeddedCodec();
  }
  const redis = settings.redisUrl
    ? createRedis(settings.redisUrl, { connectionName: settings.kafkaClientId, logger })
    : null;
  const keyPrefix = settings.redisKeyPrefix;
  const store = redis ? new RedisVersionStore({ redis, keyPrefix }) : new MemoryVersionStore();
  const emailIndex = redis ? new RedisEmailIndex({ redis, keyPrefix }) : new MemoryEmailIndex();
  const witnessTopic = real && redis ? stateWitnessTopic(settings.topicPrefix) : null;
  const stateWitness = witnessTopic
    ? new StateWitness({
        transport,
        topic: witnessTopic,
        logger: logger.child({ component: 'state-witness' }),
      })
    : null;
  const storedPositions = redis
    ? new RedisPositionStore({ redis, keyPrefix })
    : new MemoryPositionStore();
  const witnessedPositions = stateWitness
    ? new WitnessedPositionStore(storedPositions, stateWitness)
    : null;
  const positions = witnessedPositions ?? storedPositions;
  try {
    // A broker or registry still starting (or restarting) is waited for, as long as it says
    // it may come back; a refusal that cannot change (bad credentials, a bad setting) fails now.
    await retry(
      async () => {
        await transport.ensureTopics([
          ...Object.values(topics).map((name) => ({
            name,
            partitions: settings.topicPartitions,
            ...(settings.replicationFactor !== undefined
              ? { replicationFactor: settings.replicationFactor }
              : {}),
          })),
          ...(witnessTopic
            ? [stateWitnessTopicSpec(witnessTopic, settings.replicationFactor)]
            : []),
        ]);
        await codec.registerAll();
      },
      settings.startupRetry ?? STARTUP_RETRY,
      {
        onRetry: (err, attempt, delayMs) =>
          logger.warn('waiting for Kafka and the schema registry to start', {
            attempt,
            delayMs,
            err: toSyncError(err),
          }),
      },
    );
  } catch (err) {
    await transport.close().catch(() => undefined);
    if (redis) await closeRedis(redis);
    throw err;
  }
  const deps: ReconcilerDeps = {
    transport,
    codec,
    store,
    positions,
    emailIndex,
    orgs,
    topics,
    logger,
    events: new SyncEvents(),
    groupPrefix: settings.groupPrefix,
    now: Date.now,
  };
  return {
    deps,
    mode: real ? (redis ? 'kafka+redis' : 'kafka') : redis ? 'memory+redis' : 'memory',
    stateWitness,
    pendingChanges: transport,
    ready: async () => {
      try {
        await Promise.all([
          transport.lag(`${settings.groupPrefix}.reconciler`, [topics.staffChanges]),
          redis ? redis.ping() : null,
        ]);
        return true;
      } catch {
        return false;
      }
    },
    close: async () => {
      // The last source positions reach the witness while the transport is still open.
      await witnessedPositions?.flush();
      await transport.close();
      if (redis) await closeRedis(redis);
    },
  };
}
