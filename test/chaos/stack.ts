import fs from 'node:fs';
import path from 'node:path';
import { generateEncryptionKey } from '../../src/infra/secrets';
import { startInitLiveSandbox, type InitLiveSandbox } from '../../src/sandbox/initlive';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../src/sandbox/salesforce';
import { startMainProcess, type MainProcess } from '../fixtures/main-process';
import { http, type Json } from '../fixtures/http';
import { startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy';
import { startApicurio } from '../harness/apicurio';
import { startKafka } from '../harness/kafka';
import { sleep } from '../harness/log';
import { freePort, freePorts } from '../harness/ports';
import { startRedisServer } from '../harness/redis';
import type { RestartableService, StartedService } from '../harness/started-service';

export const ORG = 'org_demo';
const AOF = ['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'];

/** One connector process's place in the group: restarted in place after every kill. */
export interface ConnectorSlot {
  readonly label: string;
  readonly port: number;
  proc: MainProcess | null;
  /** Every pid this slot ran, and the highest RSS seen of any. */
  pids: number[];
  peakRssMb: number;
  /** The start under way, if any. */
  starting: Promise<void> | null;
}

export interface ChaosStackOptions {
  runDir: string;
  /** `dist` spawns the compiled connector (`npm run build`), `ts` goes through ts-node. */
  entry: 'ts' | 'dist';
  /** An existing registry (a proxy goes in front of it); default: its own Apicurio. */
  registryUrl?: string;
  log: (line: string) => void;
}

/**
 * Everything a chaos run starts and breaks: its own Kafka broker (restartable on the same data
 * directory), the registry behind a TCP proxy (down = connections reset), its own `redis-server`
 * with an append-only file (never the machine's shared Redis), both sandboxes in this process
 * with Salesforce behind a TCP proxy (network cuts), and two connector processes in one
 * consumer group, each in a slot that is restarted after a kill.
 */
export class ChaosStack {
  readonly name = `chaos-${process.pid}-${Date.now().toString(36)}`;
  readonly adminToken = `chaos-admin-${Math.random().toString(36).slice(2)}-0123456789`;
  readonly encryptionKey = generateEncryptionKey();
  readonly slots: ConnectorSlot[] = [];
  private closed = false;

  private constructor(
    private readonly options: ChaosStackOptions,
    readonly kafka: StartedService & RestartableService,
    private registry: StartedService | null,
    readonly registryProxy: TcpProxy,
    readonly registryUrl: string,
    public redis: StartedService,
    private readonly redisHome: string,
    private readonly redisPort: number,
    readonly sf: SalesforceSandbox,
    readonly sfProxy: TcpProxy,
    readonly il: InitLiveSandbox,
  ) {}

  static async start(options: ChaosStackOptions): Promise<ChaosStack> {
    const { runDir, log } = options;
    fs.mkdirSync(runDir, { recursive: true });
    const redisHome = path.join(runDir, 'redis');
    const redisPort = await freePort();
    const [kafka, registry, redis] = await Promise.all([
      startKafka(runDir),
      options.registryUrl ? Promise.resolve(null) : startApicurio(runDir),
      startRedisServer(redisHome, redisPort, undefined, AOF),
    ]);
    const registryUrl = new URL(options.registryUrl ?? registry!.address);
    const registryProxy = await startTcpProxy({
      host: registryUrl.hostname,
      port: Number(registryUrl.port),
    });
    const proxiedRegistry = `http://127.0.0.1:${registryProxy.port}${registryUrl.pathname}`;
    const sfPort = await freePort();
    const sfProxy = await startTcpProxy({ host: '127.0.0.1', port: sfPort });
    const sf = await startSalesforceSandbox({ port: sfPort, publicUrl: sfProxy.url });
    const il = await startInitLiveSandbox({ port: 0, rateLimit: false });
    log(`stack up: kafka ${kafka.address}, redis ${redis.address}, registry via proxy`);
    const stack = new ChaosStack(
      options,
      kafka,
      registry,
      registryProxy,
      proxiedRegistry,
      redis,
      redisHome,
      redisPort,
      sf,
      sfProxy,
      il,
    );
    const ports = await freePorts(2);
    for (const [i, label] of ['a', 'b'].entries()) {
      stack.slots.push({
        label,
        port: ports[i]!,
        proc: null,
        pids: [],
        peakRssMb: 0,
        starting: null,
      });
    }
    return stack;
  }

  /** Starts the slot's process, trying again while it cannot come up (the registry may be down). */
  startConnector(slot: ConnectorSlot): Promise<void> {
    slot.starting ??= this.launch(slot).finally(() => (slot.starting = null));
    return slot.starting;
  }

  private async launch(slot: ConnectorSlot): Promise<void> {
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        const proc = await startMainProcess(
          {
            name: this.name,
            orgId: ORG,
            encryptionKey: this.encryptionKey,
            adminToken: this.adminToken,
            sf: this.sf,
            il: this.il,
            callbackPort: this.slots[0]!.port,
            redisUrl: this.redis.address,
            kafkaBrokers: this.kafka.address,
            schemaRegistryUrl: this.registryUrl,
            entry: this.options.entry,
            logFile: path.join(this.options.runDir, `connector-${slot.label}.log`),
            // Joining the group waits for a killed member's session (10 s) to expire, maybe twice.
            readyTimeoutMs: 180_000,
            env: {
              PUBLIC_URL: `http://127.0.0.1:${slot.port}`,
              LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'info',
              // A blackholed call fails after 20 s instead of the default 120 s (docs/reliability.md).
              SALESFORCE_REQUEST_TIMEOUT_MS: '20000',
            },
          },
          slot.port,
          slot.label,
        );
        if (this.closed) proc.child.kill('SIGKILL');
        else slot.proc = proc;
        slot.pids.push(proc.child.pid!);
        return;
      } catch (err) {
        this.options.log(`connector ${slot.label} did not start (try ${attempt}): ${String(err)}`);
        await sleep(2000);
      }
    }
  }

  /** kill -9 of the slot's process; resolves once it is gone. */
  async kill(slot: ConnectorSlot): Promise<void> {
    const proc = slot.proc;
    if (!proc) return;
    slot.proc = null;
    await new Promise<void>((resolve) => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return resolve();
      proc.child.once('exit', () => resolve());
      proc.child.kill('SIGKILL');
    });
  }

  live(): ConnectorSlot[] {
    return this.slots.filter((s) => s.proc !== null);
  }

  /**
   * One admin API call on the organization, at whichever process answers (a process may be
   * dead or restarting); throws when none does.
   */
  async api(
    route: string,
    init: { method?: string; body?: unknown } = {},
  ): Promise<{ status: number; body: Json }> {
    let last: unknown = new Error('no connector process is running');
    for (const slot of this.live()) {
      try {
        const res = await http(`${slot.proc!.url}/api/orgs/${ORG}/salesforce${route}`, {
          token: this.adminToken,
          ...init,
        });
        if (res.status < 500) return res;
        last = new Error(`${route}: ${res.status} ${res.text.slice(0, 200)}`);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  /** What an admin does to connect (or reconnect) Salesforce: start, approve, follow back. */
  async connect(): Promise<void> {
    const started = await this.api('/connect', { method: 'POST' });
    if (started.status !== 200) throw new Error(`connect: ${started.status}`);
    const approve = await fetch(String(started.body.authorizeUrl), { redirect: 'manual' });
    // The callback lands on a live process: the OAuth state is shared, so any completes it.
    const back = new URL(approve.headers.get('location')!);
    const live = this.live()[0];
    if (!live) throw new Error('no connector process to complete the OAuth callback');
    back.port = String(live.port);
    const callback = await fetch(back, { headers: { accept: 'application/json' } });
    if (callback.status !== 200) throw new Error(`OAuth callback: ${callback.status}`);
  }

  /** kill -9 of Redis, then a start from its append-only file, or (`empty`) with nothing. */
  async restartRedis(mode: 'aof' | 'empty'): Promise<void> {
    const crashed = this.redis;
    if (crashed.pid) process.kill(crashed.pid, 'SIGKILL');
    await crashed.stop();
    if (mode === 'empty') {
      for (const entry of fs.readdirSync(this.redisHome)) {
        if (entry !== 'redis.log') {
          fs.rmSync(path.join(this.redisHome, entry), { recursive: true, force: true });
        }
      }
    }
    this.redis = await startRedisServer(this.redisHome, this.redisPort, undefined, AOF);
  }

  /** Samples each live connector's RSS (from /proc), keeping each slot's peak. */
  sampleRss(): void {
    for (const slot of this.live()) {
      try {
        const status = fs.readFileSync(`/proc/${slot.proc!.child.pid}/status`, 'utf8');
        const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
        slot.peakRssMb = Math.max(slot.peakRssMb, Math.round(kb / 1024));
      } catch {
        // gone between the look and the read
      }
    }
  }

  /** Every log line the connector processes wrote. */
  logs(): string {
    return this.slots
      .map((s) => path.join(this.options.runDir, `connector-${s.label}.log`))
      .filter((f) => fs.existsSync(f))
      .map((f) => fs.readFileSync(f, 'utf8'))
      .join('\n');
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.slots.map((s) => s.starting ?? Promise.resolve()));
    await Promise.all(this.slots.map((s) => this.kill(s)));
    await Promise.allSettled([
      this.sf.close(),
      this.il.close(),
      this.sfProxy.close(),
      this.registryProxy.close(),
    ]);
    await Promise.allSettled([this.kafka.stop(), this.redis.stop(), this.registry?.stop()]);
  }
}
