import { spawnSync } from 'node:child_process';
import { startServices, type RunningServices } from '../test/harness/services';
import { DEPLOYED_ENV, DEPLOYED_HEAP_FLAG } from './deployed';
import { benchFullSync, type FullSyncBenchOptions, type FullSyncBenchResult } from './full-sync';
import { benchFairness } from './fairness';
import { benchOrgs } from './orgs';
import { benchSchedules } from './schedules';
import {
  burstInitLiveToSalesforce,
  burstSalesforceToInitLive,
  rawKafkaPassThrough,
  steadyInitLiveToSalesforce,
} from './streaming';

/**
 * `npm run bench`: the figures docs/benchmarks.md keeps. Runs on real Kafka, the registry and
 * Redis (from KAFKA_BROKERS / SCHEMA_REGISTRY_URL / REDIS_URL, or started like the test
 * harness does) unless `--memory` is given, and says which.
 *
 *   npm run bench                      everything, full size
 *   npm run bench -- --quick           smaller bursts and a 15 s steady run (a smoke check)
 *   npm run bench -- --only=full-sync  one part: raw, burst, steady, split, full-sync
 *                                      (full-sync: `--records=`)
 *   npm run bench -- --only=steady --steady-seconds=300   a longer steady run (memory)
 *   npm run bench -- --only=full-sync-scale   full syncs of 10,000, 50,000 and 200,000 a side
 *                                             (`--scale-sizes=` to choose)
 *   npm run bench -- --only=orgs       1,000 organizations x 100 staff over 3 connector
 *                                      processes (`--orgs=`, `--staff=`, `--processes=`,
 *                                      `--change-seconds=`, `--rate=`, `--change-orgs=`, `--idle-seconds=`,
 *                                      `--idle-poll-max-ms=`, `--org-labels=false`,
 *                                      `--failover=false`); only when
 *                                      asked for, never part of "everything"
 *   npm run bench -- --only=fairness   one organization's 100,000 x 100,000 full sync while 200
 *                                      others stream 200 changes/s (`--big-records=`,
 *                                      `--streaming-orgs=`, `--rate=`, `--processes=`,
 *                                      `--staff=`, `--phase-seconds=`);
 *                                      only when asked for
 *   npm run bench -- --only=schedules  300 organizations x 20 staff over 3 connector processes,
 *                                      every one scheduled daily at the same minute: the
 *                                      scheduled-run limit, none skipped, the order
 *                                      (`--orgs=`, `--staff=`, `--processes=`, `--concurrency=`
 *                                      (SCHEDULED_RUN_CONCURRENCY; default the product's),
 *                                      `--timezone=`, `--lead-seconds=`, `--timeout-minutes=`);
 *                                      only when asked for
 *
 * `split` is the steady run with two connector processes in one consumer group: how the
 * decisions and writes divide between them.
 *
 * Without `--memory` it runs itself again under the deployed heap limit and allocator setting
 * (below) unless a `--max-old-space-size` was given.
 */
async function main(): Promise<void> {
  const args = new Set(process.argv.slice(2));
  const quick = args.has('--quick');
  const memory = args.has('--memory');
  const only = [...args].find((a) => a.startsWith('--only='))?.slice('--only='.length);
  if (!memory && !process.execArgv.some((a) => a.startsWith('--max-old-space-size'))) {
    // Steady runs put the connector in processes of their own, under the deployed limit; this
    // process then holds only the sandboxes, whose history grows with the run's length.
    const connectorElsewhere =
      only !== undefined &&
      only
        .split(',')
        .every((p) => ['steady', 'split', 'orgs', 'fairness', 'schedules'].includes(p));
    const heapFlag = connectorElsewhere ? '--max-old-space-size=4096' : DEPLOYED_HEAP_FLAG;
    const run = spawnSync(
      process.execPath,
      [...process.execArgv, heapFlag, __filename, ...process.argv.slice(2)],
      { stdio: 'inherit', env: { ...DEPLOYED_ENV, ...process.env } },
    );
    process.exit(run.status ?? 1);
  }
  const want = (part: string): boolean => !only || only.split(',').includes(part);
  const flag = (name: string): string | undefined =>
    [...args].find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  let services: RunningServices | null = null;
  if (!memory) {
    services = await startServices();
    Object.assign(process.env, services.env);
  }
  const out: Record<string, unknown> = {
    when: new Date().toISOString(),
    node: process.version,
    // The orgs and fairness benches' connector processes, when not this binary.
    connectorNode: process.env.BENCH_CONNECTOR_NODE || null,
    // Flags such as --max-old-space-size change the memory figures: say which were given.
    nodeFlags: process.execArgv,
    // As the flags: glibc's allocator setting (null when unset).
    mallocMmapThreshold: process.env.MALLOC_MMAP_THRESHOLD_ ?? null,
    cpus: (await import('node:os')).cpus().length,
    transport: memory
      ? 'in-memory transport and stores'
      : `Kafka ${process.env.KAFKA_BROKERS}, registry, Redis (real)`,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  };
  const burst = quick ? 2_000 : 10_000;
  try {
    if (want('raw') && !memory) {
      out.rawKafkaPassThrough = await rawKafkaPassThrough(
        process.env.KAFKA_BROKERS!.split(','),
        quick ? 20_000 : 100_000,
      );
      log(out, 'rawKafkaPassThrough');
    }
    if (want('burst')) {
      out.burstInitLiveToSalesforce = await burstInitLiveToSalesforce(!memory, burst);
      log(out, 'burstInitLiveToSalesforce');
      out.burstSalesforceToInitLive = await burstSalesforceToInitLive(!memory, burst);
      log(out, 'burstSalesforceToInitLive');
      const raw = out.rawKafkaPassThrough as { perSecond: number } | undefined;
      if (raw) {
        out.endToEndVsRawKafka = {
          initliveToSalesforce: round(
            (out.burstInitLiveToSalesforce as { perSecond: number }).perSecond / raw.perSecond,
          ),
          salesforceToInitLive: round(
            (out.burstSalesforceToInitLive as { perSecond: number }).perSecond / raw.perSecond,
          ),
        };
      }
    }
    const steadySeconds = Number(
      [...args].find((a) => a.startsWith('--steady-seconds='))?.slice('--steady-seconds='.length) ??
        (quick ? 15 : 60),
    );
    if (want('steady')) {
      out.steadyInitLiveToSalesforce = await steadyInitLiveToSalesforce(
        !memory,
        500,
        steadySeconds,
      );
      log(out, 'steadyInitLiveToSalesforce');
    }
    if (want('split') && !memory) {
      out.steadyTwoProcesses = await steadyInitLiveToSalesforce(true, 500, steadySeconds, 2);
      log(out, 'steadyTwoProcesses');
    }
    if (want('full-sync')) {
      out.fullSync = await benchFullSync({
        records: Number(flag('records') ?? (quick ? 5_000 : 50_000)),
        overlap: 0.2,
        ...stores(memory),
      });
      log(out, 'fullSync');
    }
    if (want('full-sync-scale')) {
      const sizes = (
        [...args].find((a) => a.startsWith('--scale-sizes='))?.slice('--scale-sizes='.length) ??
        (quick ? '2000,5000' : '10000,50000,200000')
      )
        .split(',')
        .map(Number);
      const runs: FullSyncBenchResult[] = [];
      for (const records of sizes) {
        runs.push(await benchFullSync({ records, overlap: 0.2, ...stores(memory) }));
        log({ [records]: runs[runs.length - 1] }, String(records));
      }
      out.fullSyncScale = scaleCurve(runs);
      log(out, 'fullSyncScale');
    }
    if (only?.split(',').includes('orgs')) {
      if (memory) throw new Error('--only=orgs runs connector processes: not with --memory');
      out.orgs = await benchOrgs({
        orgs: Number(flag('orgs') ?? (quick ? 20 : 1_000)),
        staff: Number(flag('staff') ?? (quick ? 20 : 100)),
        processes: Number(flag('processes') ?? 3),
        ...(flag('change-seconds') ? { changeSeconds: Number(flag('change-seconds')) } : {}),
        ...(flag('rate') ? { changeRate: Number(flag('rate')) } : {}),
        ...(flag('change-orgs') ? { changeOrgs: Number(flag('change-orgs')) } : {}),
        ...(flag('idle-seconds') ? { idleSeconds: Number(flag('idle-seconds')) } : {}),
        ...(flag('idle-poll-max-ms') ? { idlePollMaxMs: Number(flag('idle-poll-max-ms')) } : {}),
        ...(flag('org-labels') === 'false' ? { metricsOrgLabels: false } : {}),
        ...(flag('failover') === 'false' ? { failover: false } : {}),
        kafkaBrokers: process.env.KAFKA_BROKERS!.split(','),
        schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL!,
        redisUrl: process.env.REDIS_URL!,
      });
      log(out, 'orgs');
    }
    if (only?.split(',').includes('fairness')) {
      if (memory) throw new Error('--only=fairness runs connector processes: not with --memory');
      out.fairness = await benchFairness({
        bigRecords: Number(flag('big-records') ?? (quick ? 10_000 : 100_000)),
        streamingOrgs: Number(flag('streaming-orgs') ?? (quick ? 20 : 200)),
        rate: Number(flag('rate') ?? 200),
        processes: Number(flag('processes') ?? 1),
        ...(flag('staff') ? { staff: Number(flag('staff')) } : {}),
        ...(flag('phase-seconds') ? { phaseSeconds: Number(flag('phase-seconds')) } : {}),
        // The many-organization settings (docs/scaling.md).
        idlePollMaxMs: Number(flag('idle-poll-max-ms') ?? 15_000),
        metricsOrgLabels: flag('org-labels') === 'true',
        kafkaBrokers: process.env.KAFKA_BROKERS!.split(','),
        schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL!,
        redisUrl: process.env.REDIS_URL!,
      });
      log(out, 'fairness');
    }
    if (only?.split(',').includes('schedules')) {
      if (memory) throw new Error('--only=schedules runs connector processes: not with --memory');
      out.schedules = await benchSchedules({
        orgs: Number(flag('orgs') ?? (quick ? 20 : 300)),
        staff: Number(flag('staff') ?? 20),
        processes: Number(flag('processes') ?? 3),
        ...(flag('concurrency') ? { concurrency: Number(flag('concurrency')) } : {}),
        ...(flag('timezone') ? { timezone: flag('timezone')! } : {}),
        ...(flag('lead-seconds') ? { leadSeconds: Number(flag('lead-seconds')) } : {}),
        ...(flag('timeout-minutes') ? { timeoutMinutes: Number(flag('timeout-minutes')) } : {}),
        // The many-organization setting (docs/scaling.md).
        idlePollMaxMs: Number(flag('idle-poll-max-ms') ?? 15_000),
        kafkaBrokers: process.env.KAFKA_BROKERS!.split(','),
        schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL!,
        redisUrl: process.env.REDIS_URL!,
      });
      log(out, 'schedules');
    }
  } finally {
    await services?.stop();
  }
  process.stdout.write(`\n${JSON.stringify(out, null, 2)}\n`);
}

/** Kafka, the registry and Redis unless --memory: as in production, and what the RSS target is about. */
function stores(memory: boolean): FullSyncBenchOptions {
  return memory
    ? {}
    : {
        redisUrl: process.env.REDIS_URL,
        kafkaBrokers: process.env.KAFKA_BROKERS!.split(','),
        schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL,
      };
}

/**
 * The full sync's growth with size: per run the figures issue 16 sets targets on, and each
 * run's wall and CPU time over the previous size's, against the size ratio (linear growth
 * makes the two equal).
 */
function scaleCurve(runs: FullSyncBenchResult[]) {
  return {
    runs: runs.map((r) => ({
      records: r.records,
      status: r.status,
      wallMs: r.wallMs,
      cpuMs: r.cpuMs,
      cpuMsPer1000Records: r.cpuMsPer1000Records,
      salesforceApiCalls: r.salesforceApiCalls,
      callsPer1000Records: round(r.salesforceApiCalls / ((r.records * 2) / 1_000)),
      peakRssMb: r.peakRssMb,
      staffAfter: r.staffAfter,
      contactsAfter: r.contactsAfter,
    })),
    growth: runs.slice(1).map((r, i) => ({
      from: runs[i]!.records,
      to: r.records,
      sizeRatio: round(r.records / runs[i]!.records),
      wallRatio: round(r.wallMs / runs[i]!.wallMs),
      cpuRatio: round(r.cpuMs / runs[i]!.cpuMs),
    })),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function log(out: Record<string, unknown>, key: string): void {
  process.stderr.write(`[bench] ${key}: ${JSON.stringify(out[key])}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
