import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configDocs, configShape, loadConfig } from '../../src/config';
import { MONITORING, ROOT, readYaml } from '../fixtures/monitoring';

/**
 * docker-compose.yml and the Dockerfile, checked statically: CI has no Docker, so
 * `docker compose up` is never run here (README, Monitoring). What can be known without it is
 * checked: every image pinned, the connector's variables known to the zod config and valid
 * together, provisioning paths present, ports and host names in step with the config
 * defaults and with each other.
 */

interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  command?: string[] | string;
  depends_on?: unknown;
}
interface Compose {
  services: Record<string, ComposeService>;
}

const compose = readYaml<Compose>(join(ROOT, 'docker-compose.yml'));
const services = compose.services;
const dockerfileText = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const defaults = Object.fromEntries(configDocs().map((d) => [d.name, d.defaultValue]));

/** Dockerfile instructions, continuation lines joined and comments dropped. */
function instructions(text: string): Array<{ op: string; args: string }> {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}
const dockerfile = instructions(dockerfileText);

/** `${NAME:-default}` as compose resolves it with NAME unset. */
function composeValue(value: string): string {
  return value.replace(/\$\{(\w+):-([^}]*)\}/g, (_m, _name, def: string) => def);
}

/** `KEY=value KEY2=value2` (ENV / ARG arguments). */
function assignments(args: string): Record<string, string> {
  return Object.fromEntries(
    [...args.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')]),
  );
}

/** A tag that names one release (1.2.3, v2.42.0, 22.21.1-bookworm-slim) or a digest. */
const pinned = /^[\w./-]+(:v?\d+\.\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?$/;
function isPinned(image: string): boolean {
  return pinned.test(image) && (/@sha256:/.test(image) || /:v?\d+\.\d+\.\d+/.test(image));
}

describe('docker-compose.yml and Dockerfile (static: Docker is not run in CI)', () => {
  test('every image is pinned to a release; only the connector is built here', () => {
    const unpinned = Object.entries(services)
      .filter(([, s]) => s.build === undefined)
      .filter(([, s]) => !isPinned(s.image ?? ''))
      .map(([name, s]) => `${name}: ${s.image}`);
    expect(unpinned).toEqual([]);
    expect(
      Object.entries(services)
        .filter(([, s]) => s.build !== undefined)
        .map(([n]) => n),
    ).toEqual(['connector']);
    // The check itself tells pinned from floating.
    expect(['redis:7.0', 'grafana/grafana:latest', 'node:22-slim'].filter(isPinned)).toEqual([]);
    expect(isPinned('prom/prometheus:v2.42.0')).toBe(true);
  });

  test('the stack has the connector, Kafka, the registry, Redis, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['connector', 'grafana', 'kafka', 'prometheus', 'redis', 'registry'].sort(),
    );
  });

  test("the connector's variables are the zod config's, and valid together", () => {
    const env = services.connector!.environment ?? {};
    const runtimeOwn = new Set(['NODE_ENV', 'NODE_OPTIONS', 'MALLOC_MMAP_THRESHOLD_']);
    const dockerEnv = Object.assign(
      {},
      ...dockerfile.filter((i) => i.op === 'ENV').map((i) => assignments(i.args)),
    ) as Record<string, string>;
    const unknown = [...Object.keys(env), ...Object.keys(dockerEnv)].filter(
      (k) => !(k in configShape) && !runtimeOwn.has(k),
    );
    expect(unknown).toEqual([]);
    const resolved = Object.fromEntries(
      Object.entries({ ...dockerEnv, ...env }).map(([k, v]) => [k, composeValue(String(v))]),
    );
    const config = loadConfig(resolved);
    expect(config.KAFKA_BROKERS).toBeDefined();
    expect(config.REDIS_URL).toBeDefined();
    expect(config.SANDBOX_ACTIVITY_PER_MINUTE).toBeGreaterThan(0);
  });

  test('host names and ports agree with the services and the config defaults', () => {
    const env = services.connector!.environment ?? {};
    const port = defaults.PORT!;
    expect(services.connector!.ports).toEqual([`${port}:${port}`]);
    // Other services reach each other on container ports.
    const kafkaListeners = services.kafka!.environment!.KAFKA_LISTENERS!;
    const [kafkaHost, kafkaPort] = env.KAFKA_BROKERS!.split(':');
    expect(kafkaHost).toBe('kafka');
    expect(kafkaListeners).toContain(`PLAINTEXT://:${kafkaPort}`);
    const registry = new URL(env.SCHEMA_REGISTRY_URL!);
    expect(registry.hostname).toBe('registry');
    expect(services.registry!.ports!.map((p) => p.split(':')[1])).toContain(registry.port);
    const redis = new URL(env.REDIS_URL!);
    expect(redis.hostname).toBe('redis');
    expect(redis.port).toBe('6379');
    // Prometheus scrapes the connector on its port.
    const targets = JSON.parse(
      readFileSync(join(MONITORING, 'prometheus', 'targets', 'connector.json'), 'utf8'),
    ) as Array<{ targets: string[] }>;
    expect(targets.flatMap((t) => t.targets)).toEqual([`connector:${port}`]);
    // Grafana's datasource is the Prometheus service.
    const ds = readYaml<{ datasources: Array<{ type: string; url: string; uid: string }> }>(
      join(MONITORING, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'),
    ).datasources;
    expect(ds).toEqual([
      expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
    expect(services.prometheus!.ports).toEqual(['9090:9090']);
  });

  test('every file the stack mounts exists, and Grafana provisions the dashboard from where it is mounted', () => {
    const mounts = Object.values(services).flatMap((s) =>
      (s.volumes ?? []).filter((v) => v.startsWith('./')),
    );
    expect(mounts.length).toBeGreaterThanOrEqual(3);
    expect(mounts.filter((v) => !existsSync(join(ROOT, v.split(':')[0]!)))).toEqual([]);
    const grafanaMounts = services.grafana!.volumes!;
    const dashboards = readYaml<{ providers: Array<{ options: { path: string } }> }>(
      join(MONITORING, 'grafana', 'provisioning', 'dashboards', 'initlive-salesforce-sync.yml'),
    ).providers;
    const dashboardMount = grafanaMounts.find((v) => v.includes('initlive-salesforce-sync.json'))!;
    expect(dashboardMount.split(':')[1]).toBe(
      `${dashboards[0]!.options.path}/initlive-salesforce-sync.json`,
    );
    expect(grafanaMounts).toContain(
      './monitoring/grafana/provisioning:/etc/grafana/provisioning:ro',
    );
    // Prometheus reads the shipped configuration and rules.
    expect(services.prometheus!.volumes).toContain('./monitoring/prometheus:/etc/prometheus:ro');
    expect(services.prometheus!.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
  });

  test('the Dockerfile: multi-stage on node 22 or 24 slim, non-root, memory settings as the README says, /readyz healthcheck', () => {
    const args = Object.assign(
      {},
      ...dockerfile.filter((i) => i.op === 'ARG').map((i) => assignments(i.args)),
    ) as Record<string, string>;
    const froms = dockerfile
      .filter((i) => i.op === 'FROM')
      .map((i) =>
        i.args.split(/\s+/)[0]!.replace(/\$\{(\w+)\}/g, (_m, n: string) => args[n] ?? ''),
      );
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const image of froms) {
      expect(image).toMatch(
        /^node:(22|24)\.\d+\.\d+-(bookworm-|trixie-)?slim(@sha256:[0-9a-f]{64})?$/,
      );
    }
    // The last stage runs as a user other than root.
    const last = dockerfile.slice(dockerfile.map((i) => i.op).lastIndexOf('FROM'));
    const user = last.filter((i) => i.op === 'USER').pop()?.args;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
    // NODE_OPTIONS and MALLOC_MMAP_THRESHOLD_ as README's memory section gives them.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const advised = /NODE_OPTIONS=(\S+) MALLOC_MMAP_THRESHOLD_=(\d+) npm start/.exec(readme);
    expect(advised).not.toBeNull();
    const env = Object.assign(
      {},
      ...last.filter((i) => i.op === 'ENV').map((i) => assignments(i.args)),
    ) as Record<string, string>;
    expect(env.NODE_OPTIONS).toBe(advised![1]);
    expect(env.MALLOC_MMAP_THRESHOLD_).toBe(advised![2]);
    expect(env.PORT).toBe(defaults.PORT);
    expect(last.find((i) => i.op === 'EXPOSE')?.args).toBe(defaults.PORT);
    const health = last.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
    expect(health).toContain('/readyz');
    expect(health).toContain('process.env.PORT');
  });

  test('the Dockerfile copies what exists, and the runtime stage has what the code reads from disk', () => {
    const sources = dockerfile
      .filter((i) => i.op === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) =>
        i.args
          .split(/\s+/)
          .filter((a) => !a.startsWith('--'))
          .slice(0, -1),
      );
    expect(sources.filter((s) => !existsSync(join(ROOT, s)))).toEqual([]);
    const runtimeCopies = dockerfile
      .filter((i) => i.op === 'COPY' && i.args.includes('--from=build'))
      .map((i) => i.args.split(/\s+/).at(-1));
    // Avro schemas (src/infra/avro/schemas.ts), Lua scripts (src/infra/redis/lua-scripts.ts),
    // the admin console's files (src/admin/console.ts serves console/ from the package root)
    // and the Salesforce package, whose field files the sandbox's Contact is built from.
    expect(runtimeCopies).toEqual(
      expect.arrayContaining([
        './schemas',
        './src/infra/redis/lua',
        './console',
        './salesforce/force-app',
        './dist/src',
        './node_modules',
      ]),
    );
    expect(dockerfile.at(-1)).toEqual({ op: 'CMD', args: '["node", "dist/src/main.js"]' });
  });
});
