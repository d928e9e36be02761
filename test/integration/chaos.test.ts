import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runChaos, type ChaosReport } from '../chaos/run';
import { integrationEnv } from '../harness/env';

/**
 * The short, fixed-seed chaos run of `npm test` (docs/reliability.md): its own Kafka broker and
 * redis-server (both restarted), the run's registry behind a proxy (cut), two connector
 * processes killed and restarted, storms on both APIs, while people change on both sides. It
 * ends with nothing lost, nothing duplicated, nothing left behind and no call while idle. When
 * it fails, the message holds the seed, the fault timeline and the history of every person a
 * finding names: `npm run chaos -- --seed <seed> --minutes <minutes>` repeats the plan.
 */

const SEED = Number(process.env.CHAOS_SEED ?? 7);
const MINUTES = Number(process.env.CHAOS_MINUTES ?? 3);

jest.setTimeout(15 * 60_000);

describe('chaos (fixed seed, short)', () => {
  it(`seed ${SEED}: nothing lost, nothing duplicated, nothing left behind, quiet when idle`, async () => {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `initlive-chaos-${SEED}-`));
    const lines: string[] = [];
    let report: ChaosReport | undefined;
    try {
      report = await runChaos({
        seed: SEED,
        minutes: MINUTES,
        runDir,
        entry: 'ts',
        registryUrl: integrationEnv().schemaRegistryUrl,
        log: (line) => lines.push(line),
      });
    } finally {
      if (report?.passed) fs.rmSync(runDir, { recursive: true, force: true });
    }
    if (!report.passed) {
      const summary = {
        command: report.command,
        lost: report.lost,
        duplicated: report.duplicated,
        orphans: report.orphans,
        deadLetters: report.deadLetters,
        consumerLag: report.consumerLag,
        runsNotEnded: report.runsNotEnded,
        holdsNotEnded: report.holdsNotEnded,
        idleSalesforceCalls: report.idleSalesforceCalls,
        secretsInLogs: report.secretsInLogs,
        findings: report.findings,
        histories: report.histories,
        timeline: report.timeline,
        log: lines,
        logsKeptIn: runDir,
      };
      throw new Error(`chaos run failed:\n${JSON.stringify(summary, null, 2)}`);
    }
    expect(report.lost).toBe(0);
    expect(report.duplicated).toBe(0);
    expect(report.orphans).toBe(0);
    expect(report.secretsInLogs).toEqual([]);
    expect(report.faultsByKind['kill-9'] ?? 0).toBeGreaterThanOrEqual(3);
    expect(report.faultsInjected).toBeGreaterThanOrEqual(6);
    expect(report.changesMade).toBeGreaterThan(200);
  });
});
