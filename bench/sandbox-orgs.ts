/**
 * What an org costs in the sandboxes: starts each sandbox alone, creates `--orgs` orgs with
 * `--records` Contacts / staff each through the HTTP control API (as a benchmark would), and
 * prints the idle process's heap and RSS growth per org.
 *
 *   node --expose-gc -r ts-node/register/transpile-only bench/sandbox-orgs.ts --orgs=1000 --records=100
 */
import { startInitLiveSandbox } from '../src/sandbox/initlive';
import { startSalesforceSandbox } from '../src/sandbox/salesforce';

const arg = (name: string, fallback: number): number => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? Number(hit.slice(name.length + 3)) : fallback;
};

interface Memory {
  heapMb: number;
  rssMb: number;
}

function settle(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run node with --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return { heapMb: m.heapUsed / 2 ** 20, rssMb: m.rss / 2 ** 20 };
}

async function measure(
  label: string,
  orgCount: number,
  createOne: (i: number) => Promise<void>,
): Promise<void> {
  const before = settle();
  const started = Date.now();
  for (let i = 0; i < orgCount; i++) await createOne(i);
  const seconds = (Date.now() - started) / 1000;
  const after = settle();
  const perOrgKb = ((after.heapMb - before.heapMb) * 1024) / orgCount;
  console.log(
    `${label}: ${orgCount} orgs in ${seconds.toFixed(1)} s; heap ${before.heapMb.toFixed(1)} -> ` +
      `${after.heapMb.toFixed(1)} MB (${perOrgKb.toFixed(1)} KB per org), rss ` +
      `${before.rssMb.toFixed(1)} -> ${after.rssMb.toFixed(1)} MB`,
  );
}

async function main(): Promise<void> {
  const orgCount = arg('orgs', 1000);
  const records = arg('records', 100);

  const sf = await startSalesforceSandbox();
  await measure(`salesforce (${records} Contacts each)`, orgCount, async () => {
    const res = await fetch(`${sf.url}/__sandbox/orgs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Sandbox-Secret': sf.clientSecret },
      body: JSON.stringify({ contactCount: records }),
    });
    if (res.status !== 201) throw new Error(`create org: ${res.status} ${await res.text()}`);
  });
  await sf.close();

  const il = await startInitLiveSandbox();
  await measure(`initlive (${records} staff each)`, orgCount, async () => {
    const res = await fetch(`${il.url}/__sandbox/orgs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer sandbox-key' },
      body: JSON.stringify({ staffCount: records }),
    });
    if (res.status !== 201) throw new Error(`create org: ${res.status} ${await res.text()}`);
  });
  await il.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
