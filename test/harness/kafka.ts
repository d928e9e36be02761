import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { copyDependencies, ensureCached } from './artifact-cache';
import { findJava } from './java';
import { harnessLog, secondsSince, sleep, tail } from './log';
import { freePorts } from './ports';
import { describeExit, spawnService, stopService } from './processes';
import { runCommand } from './run-command';
import type { RestartableService, StartedService } from './started-service';

/** Pinned: the last line that keeps every protocol version kafkajs 2.2.4 speaks. */
const DEFAULT_KAFKA_VERSION = '3.9.1';
const SLF4J_BINDING_VERSION = '1.7.36';
const READY_TIMEOUT_MS = 60_000;

interface ClusterInfo {
  brokerCount: number;
  clusterId: string;
}

/**
 * A new broker answers its first group and idempotent-producer requests with "coordinator is
 * loading" while it creates __consumer_offsets and loads the coordinators. kafkajs retries
 * that, but its consumers crash and restart on the way, which turns the first tests of a run
 * into timing tests. One idempotent produce and one group commit here take that cost once.
 */
async function warmUpCoordinators(brokers: string[]): Promise<void> {
  const kafka = new Kafka({ clientId: 'harness-warmup', brokers, logLevel: logLevel.NOTHING });
  const topic = '__harness_warmup';
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId: 'harness-warmup', sessionTimeout: 6000 });
  try {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: 'warm' }] });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let resolveSeen: () => void = () => undefined;
    const seen = new Promise<void>((r) => (resolveSeen = r));
    await consumer.run({ eachMessage: async () => resolveSeen() });
    await Promise.race([seen, sleep(30_000)]);
  } finally {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

/** One describeCluster round trip with a throwaway, silent admin client. */
async function describeCluster(brokers: string[], timeoutMs: number): Promise<ClusterInfo> {
  const kafka = new Kafka({
    clientId: 'test-harness',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(timeoutMs, 3000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return { brokerCount: cluster.brokers.length, clusterId: cluster.clusterId };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 characters). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Kafka's own generator avoids a leading '-', which a command line would read as an option.
    if (!id.startsWith('-')) return id;
  }
}

function serverProperties(brokerPort: number, controllerPort: number, dataDir: string): string {
  return `# Written by test/harness: single-node KRaft broker+controller for one test run.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${brokerPort}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${dataDir}
num.partitions=1
auto.create.topics.enable=true
# One broker: every internal topic must have one replica, or consumer groups and
# transactions wait forever for replicas that do not exist.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
min.insync.replicas=1
# The default 3 s delay before the first rebalance would slow every consumer-group test.
group.initial.rebalance.delay.ms=0
`;
}

// WARN keeps the log small; AppInfoParser at INFO prints "Kafka version: x.y.z", which is how
// the banner reports the version the broker itself says it runs.
const LOG4J = `log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.common.utils.AppInfoParser=INFO
`;

/** The Kafka classpath, from the cache or fetched with Maven on first use. */
function kafkaLibs(version: string): Promise<string> {
  return ensureCached(`kafka-${version}`, `Kafka ${version} classpath`, async (dir) => {
    await copyDependencies(
      dir,
      [
        { groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version },
        { groupId: 'org.slf4j', artifactId: 'slf4j-reload4j', version: SLF4J_BINDING_VERSION },
      ],
      `org.apache.kafka:kafka_2.13:${version}`,
    );
  }).then((dir) => path.join(dir, 'libs'));
}

/**
 * Uses the brokers in KAFKA_BROKERS: fails unless they answer describeCluster within 15 s.
 */
export async function useExistingKafka(brokersVar: string): Promise<StartedService> {
  const brokers = brokersVar
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  let info: ClusterInfo;
  try {
    info = await describeCluster(brokers, 15_000);
  } catch (err) {
    throw new Error(
      `KAFKA_BROKERS=${brokersVar} is set but no broker answered describeCluster: ` +
        `${(err as Error).message}. Unset it to let the harness start Kafka itself.`,
    );
  }
  harnessLog(
    `Kafka at ${brokers.join(',')} (existing cluster from KAFKA_BROKERS: ` +
      `${info.brokerCount} broker(s), cluster id ${info.clusterId})`,
  );
  return { name: 'Kafka', address: brokers.join(','), owned: false, stop: async () => undefined };
}

/**
 * Starts a private single-node KRaft Kafka on free ports with a fresh data directory under
 * `runDir`, and resolves once describeCluster answers. Throws with the broker's log tail if
 * it exits or does not become ready in 60 s. One retry covers a port taken between probe and
 * bind by a concurrent run.
 */
export async function startKafka(runDir: string): Promise<StartedService & RestartableService> {
  const version = process.env.HARNESS_KAFKA_VERSION || DEFAULT_KAFKA_VERSION;
  const started = Date.now();
  const [java, libs] = await Promise.all([
    findJava({
      minMajor: 11,
      purpose: `Kafka ${version}`,
      strictHomeVar: 'KAFKA_JAVA_HOME',
      homeVars: ['JAVA_HOME'],
    }),
    kafkaLibs(version),
  ]);
  const classpath = path.join(libs, '*');

  for (let attempt = 1; ; attempt++) {
    const home = path.join(runDir, `kafka-${attempt}`);
    const dataDir = path.join(home, 'data');
    fs.mkdirSync(dataDir, { recursive: true });
    const [brokerPort, controllerPort] = (await freePorts(2)) as [number, number];
    const props = path.join(home, 'server.properties');
    const log4j = path.join(home, 'log4j.properties');
    fs.writeFileSync(props, serverProperties(brokerPort, controllerPort, dataDir));
    fs.writeFileSync(log4j, LOG4J);
    const log4jArg = `-Dlog4j.configuration=file:${log4j}`;

    const format = await runCommand(
      java.bin,
      [
        '-cp',
        classpath,
        log4jArg,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId(),
        '-c',
        props,
        '--ignore-formatted',
      ],
      { cwd: home, timeoutMs: 120_000 },
    );
    if (format.code !== 0) {
      throw new Error(
        `Kafka ${version} storage format failed (${java.bin}, Java ${java.version}):\n${tail(format.output, 20)}`,
      );
    }

    const launch = () =>
      spawnService(
        'Kafka',
        java.bin,
        [
          '-Xmx768m',
          '-Xms256m',
          '-Djava.awt.headless=true',
          '-cp',
          classpath,
          log4jArg,
          'kafka.Kafka',
          props,
        ],
        { cwd: home, logFile: path.join(home, 'kafka.log') },
      );
    let proc = launch();
    const brokers = [`127.0.0.1:${brokerPort}`];
    const waitReady = async (): Promise<ClusterInfo | undefined> => {
      const deadline = Date.now() + READY_TIMEOUT_MS;
      while (Date.now() < deadline && proc.exitInfo() === undefined) {
        try {
          return await describeCluster(brokers, 2000);
        } catch (err) {
          lastError = (err as Error).message;
          await sleep(250);
        }
      }
      return undefined;
    };
    let lastError = '';
    const ready = await waitReady();
    if (ready) {
      await warmUpCoordinators(brokers);
      const logText = fs.readFileSync(proc.logFile, 'utf8');
      const reported = /Kafka version: (\S+)/.exec(logText)?.[1] ?? `${version} (jar)`;
      harnessLog(
        `Kafka ${reported} (KRaft) started at ${brokers[0]} in ${secondsSince(started)} ` +
          `(real broker, not a mock; Java ${java.version}; cluster ${ready.clusterId}; pid ${proc.pid})`,
      );
      return {
        name: 'Kafka',
        address: brokers.join(','),
        owned: true,
        get pid() {
          return proc.pid;
        },
        stop: async () => {
          const stopping = Date.now();
          await stopService(proc);
          harnessLog(`Kafka ${reported} at ${brokers[0]} stopped in ${secondsSince(stopping)}`);
        },
        restart: async () => {
          await stopService(proc);
          proc = launch();
          if (!(await waitReady())) {
            throw new Error(`Kafka did not come back at ${brokers[0]}: ${proc.logTail(20)}`);
          }
        },
      };
    }

    const exit = proc.exitInfo();
    await stopService(proc);
    const logTail = proc.logTail(40);
    if (exit && attempt === 1 && /Address already in use/i.test(logTail)) {
      harnessLog(`Kafka lost its ports to another process; retrying on new ones`);
      continue;
    }
    throw new Error(
      exit
        ? `Kafka ${version} ${describeExit(exit)} before it was ready. Log tail (${proc.logFile}):\n${logTail}`
        : `Kafka ${version} did not answer describeCluster at ${brokers[0]} within ` +
            `${READY_TIMEOUT_MS / 1000}s (last error: ${lastError}). Log tail:\n${logTail}`,
    );
  }
}
