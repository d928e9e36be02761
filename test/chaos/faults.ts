import { sleep } from '../harness/log';
import type { ChaosStack } from './stack';
import { Prng } from './prng';

export type FaultKind =
  | 'kill-9'
  | 'kafka-restart'
  | 'kafka-restart-in-rebalance'
  | 'redis-restart-aof'
  | 'redis-restart-empty'
  | 'registry-down'
  | 'salesforce-503-storm'
  | 'salesforce-429-storm'
  | 'salesforce-request-limit'
  | 'salesforce-token-revoked'
  | 'initlive-429-storm'
  | 'initlive-5xx-storm'
  | 'webhook-storm'
  | 'salesforce-network-blackhole'
  | 'salesforce-network-reset';

/** Every fault but kill -9, which runs on its own clock beside them. */
export const MAJOR_FAULTS: readonly FaultKind[] = [
  'kafka-restart',
  'kafka-restart-in-rebalance',
  'redis-restart-aof',
  'redis-restart-empty',
  'registry-down',
  'salesforce-503-storm',
  'salesforce-429-storm',
  'salesforce-request-limit',
  'salesforce-token-revoked',
  'initlive-429-storm',
  'initlive-5xx-storm',
  'webhook-storm',
  'salesforce-network-blackhole',
  'salesforce-network-reset',
];

export interface PlannedFault {
  /** From the start of the fault phase. */
  atMs: number;
  kind: FaultKind;
  /** How long the fault lasts (storms, outages), ms; 0 for a one-off event. */
  durationMs: number;
  /** Calls failed by a storm; the connector process a kill hits. */
  count?: number;
  target?: 'a' | 'b';
  /** After a kill, how long the process stays down. */
  downMs?: number;
}

/** When each fault happened, and when it was over. */
export interface TimelineEntry {
  kind: FaultKind;
  detail: string;
  startMs: number;
  endMs: number | null;
}

/**
 * The fault plan of a seed: one major fault at a time (each kind once per round, in a seeded
 * order), and kill -9 of a connector process every 20-45 s beside them.
 */
export function planFaults(seed: number, faultMs: number): PlannedFault[] {
  const rng = new Prng(seed ^ 0x5eed);
  const plan: PlannedFault[] = [];
  let bag: FaultKind[] = [];
  for (let t = 5_000; t < faultMs - 10_000;) {
    if (bag.length === 0) bag = rng.shuffle(MAJOR_FAULTS);
    const kind = bag.shift()!;
    const fault: PlannedFault = { atMs: t, kind, durationMs: 0 };
    switch (kind) {
      case 'registry-down':
        fault.durationMs = 30_000;
        break;
      case 'salesforce-503-storm':
      case 'salesforce-429-storm':
      case 'initlive-429-storm':
      case 'initlive-5xx-storm':
        fault.count = rng.int(20, 80);
        fault.durationMs = rng.int(10_000, 20_000);
        break;
      case 'salesforce-request-limit':
        fault.durationMs = rng.int(15_000, 30_000);
        break;
      case 'salesforce-token-revoked':
        fault.durationMs = rng.int(5_000, 15_000);
        break;
      case 'webhook-storm':
        fault.durationMs = 30_000;
        break;
      case 'salesforce-network-blackhole':
        fault.durationMs = rng.int(15_000, 30_000);
        break;
      case 'salesforce-network-reset':
        fault.durationMs = rng.int(10_000, 20_000);
        break;
      case 'kafka-restart-in-rebalance':
        fault.target = rng.pick(['a', 'b'] as const);
        break;
      default:
        break;
    }
    plan.push(fault);
    // Room to heal before the next one; more after a repair run.
    const gap = kind === 'redis-restart-empty' ? 30_000 : rng.int(8_000, 20_000);
    t += fault.durationMs + gap;
  }
  for (let t = rng.int(10_000, 30_000); t < faultMs - 5_000; t += rng.int(20_000, 45_000)) {
    plan.push({
      atMs: t,
      kind: 'kill-9',
      durationMs: 0,
      target: rng.pick(['a', 'b'] as const),
      downMs: rng.int(500, 5_000),
    });
  }
  return plan.sort((a, b) => a.atMs - b.atMs);
}

export interface FaultContext {
  stack: ChaosStack;
  log: (line: string) => void;
  /** Salesforce calls counted before an allocation reset (the sandbox forgets them). */
  onApiUsageReset: (used: number) => void;
  /** The workload's pace, changed during a webhook storm. */
  setPace: (factor: number) => void;
}

/** Runs one fault to its end (the outage over, the storm spent or disarmed); returns what it did. */
export async function inject(fault: PlannedFault, ctx: FaultContext): Promise<string> {
  const { stack } = ctx;
  const { sf, il } = stack;
  switch (fault.kind) {
    case 'kill-9': {
      let slot = stack.slots.find((s) => s.label === fault.target)!;
      if (!slot.proc) slot = stack.slots.find((s) => s.proc !== null) ?? slot;
      if (!slot.proc) return 'both processes down: skipped';
      const pid = slot.proc.child.pid;
      await stack.kill(slot);
      await sleep(fault.downMs ?? 0);
      // Started again in the background: joining the group waits for the dead member's session
      // to expire, and the next kill must not wait for that.
      void stack.startConnector(slot);
      return `connector ${slot.label} (pid ${pid}) killed, restarted after ${fault.downMs} ms`;
    }
    case 'kafka-restart':
      await stack.kafka.restart();
      return 'broker stopped and started on the same data directory';
    case 'kafka-restart-in-rebalance': {
      // A member leaving and joining again starts a rebalance; the broker goes while it runs.
      const slot = stack.slots.find((s) => s.label === fault.target)!;
      await stack.kill(slot);
      const joining = stack.startConnector(slot);
      await sleep(1_500);
      await stack.kafka.restart();
      await joining;
      return `connector ${slot.label} rejoined while the broker restarted`;
    }
    case 'redis-restart-aof':
      await stack.restartRedis('aof');
      return 'kill -9, restarted from its append-only file';
    case 'redis-restart-empty':
      await stack.restartRedis('empty');
      return 'kill -9, restarted with no data';
    case 'registry-down':
      stack.registryProxy.mode('reset');
      await sleep(fault.durationMs);
      stack.registryProxy.mode('pass');
      return `registry unreachable for ${fault.durationMs} ms`;
    case 'salesforce-503-storm':
    case 'salesforce-429-storm': {
      const status = fault.kind === 'salesforce-503-storm' ? 503 : 429;
      sf.control.failNext(fault.count!, status);
      await sleep(fault.durationMs);
      const left = sf.control.counters().pendingFailures;
      sf.control.failNext(0);
      return `${fault.count! - left} of ${fault.count} calls answered ${status}`;
    }
    case 'salesforce-request-limit': {
      // Exhausting counts the rest of the allocation as used: only what came before is calls.
      const used = sf.control.counters().apiCallsUsed;
      sf.control.exhaustApiLimit();
      await sleep(fault.durationMs);
      ctx.onApiUsageReset(used);
      sf.control.resetApiUsage();
      return `daily allocation exhausted for ${fault.durationMs} ms`;
    }
    case 'salesforce-token-revoked': {
      sf.control.revokeAllGrants();
      await sleep(fault.durationMs);
      // The admin reconnects, as the status page asks.
      for (let attempt = 1; ; attempt++) {
        try {
          await stack.connect();
          break;
        } catch (err) {
          if (attempt >= 30) throw err;
          await sleep(2_000);
        }
      }
      return `grants revoked; reconnected after ${fault.durationMs} ms`;
    }
    case 'initlive-429-storm':
      il.control.failNextWithRateLimit(fault.count!, { retryAfterSeconds: 1 });
      await sleep(fault.durationMs);
      il.control.failNextWithRateLimit(0);
      return `${fault.count} requests armed with 429`;
    case 'initlive-5xx-storm':
      il.control.failNextWithServerError(fault.count!, { status: 502 });
      await sleep(fault.durationMs);
      il.control.failNextWithServerError(0);
      return `${fault.count} requests armed with 502`;
    case 'webhook-storm':
      il.control.setWebhookMode({ duplicate: true, reorder: true });
      ctx.setPace(3);
      await sleep(fault.durationMs);
      ctx.setPace(1);
      il.control.setWebhookMode({ duplicate: false, reorder: false });
      return 'webhooks delivered twice and out of order, changes at 3x';
    case 'salesforce-network-blackhole':
    case 'salesforce-network-reset': {
      const mode = fault.kind === 'salesforce-network-blackhole' ? 'blackhole' : 'reset';
      stack.sfProxy.mode(mode);
      await sleep(fault.durationMs);
      stack.sfProxy.mode('pass');
      return `Salesforce ${mode} for ${fault.durationMs} ms`;
    }
  }
}
