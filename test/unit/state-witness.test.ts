import type { PositionStore } from '../../src/core/position-store';
import { MemoryConnectionStore } from '../../src/infra/memory/memory-connection-store';
import { MemoryPositionStore } from '../../src/infra/memory/memory-position-store';
import { MemoryTransport } from '../../src/infra/memory/memory-transport';
import { createSecretBox, generateEncryptionKey } from '../../src/infra/secrets';
import { silentLogger } from '../../src/logger';
import type { OrgConnection } from '../../src/orgs/connection-store';
import { WitnessedConnectionStore } from '../../src/orgs/witnessed-connection-store';
import { WitnessedPositionStore } from '../../src/pipeline/witnessed-positions';
import { describePositionStoreConformance } from '../conformance/position-store.conformance';
import { STATE_EPOCH, StateEpoch } from '../../src/pipeline/state-epoch';
import { connectionRecord } from '../conformance/connection-store.conformance';
import { MemoryLock } from '../../src/infra/memory/memory-lock';
import type { InitLiveApi } from '../../src/infra/initlive';
import { ManagedOrgDirectory } from '../../src/orgs/managed-org-directory';
import { StaticOrgDirectory } from '../../src/orgs/org-directory';
import { SourceLease } from '../../src/pipeline/source-lease';
import { orgRuntime } from './source-initlive-helpers';
import {
  StateWitness,
  stateWitnessTopic,
  stateWitnessTopicSpec,
} from '../../src/pipeline/state-witness';

/**
 * The state witness: a copy of the state epoch and the connections outside the store, so a
 * process starting on an emptied store (nobody left who remembers it) finds the loss and puts
 * the connections back. The memory transport stands in for the compacted Kafka topic (the
 * Kafka adapter's readLatest is held to the same transport conformance suite).
 */

const secrets = createSecretBox(generateEncryptionKey());

const made = new Map<string, OrgConnection>();
/** One record per organization for the whole file, so what is put back can be compared. */
function connection(orgId: string): OrgConnection {
  let r = made.get(orgId);
  if (!r) made.set(orgId, (r = connectionRecord(orgId)));
  return r;
}

/** One "Redis": what is lost together when it comes back empty. */
function store() {
  const inner = new MemoryConnectionStore({ secrets });
  return {
    positions: new MemoryPositionStore(),
    inner,
    connections: new WitnessedConnectionStore(inner),
  };
}

describe('state witness', () => {
  let transport: MemoryTransport;
  let witness: StateWitness;

  beforeEach(async () => {
    transport = new MemoryTransport();
    const topic = stateWitnessTopic('test');
    await transport.ensureTopics([stateWitnessTopicSpec(topic)]);
    witness = new StateWitness({ transport, topic, logger: silentLogger });
  });
  afterEach(() => transport.close());

  const epochOf = (s: { positions: PositionStore; connections: WitnessedConnectionStore }) =>
    new StateEpoch({
      positions: s.positions,
      logger: silentLogger,
      witness,
      connections: s.connections,
    });

  it('a new deployment is not a loss: its first epoch and its connections are witnessed', async () => {
    const redis = store();
    expect(await epochOf(redis).check()).toEqual({ lost: false });
    const epoch = await redis.positions.get(STATE_EPOCH);
    expect((await witness.read()).epoch).toBe(epoch);

    await redis.connections.witnessWith(witness);
    await redis.connections.update('org_a', () => connection('org_a'));
    const kept = await witness.read();
    expect([...kept.connections.keys()]).toEqual(['org_a']);
    // Sealed as stored: no secret is readable on the topic.
    expect(kept.connections.get('org_a')).toBe(await redis.connections.raw('org_a'));
    expect(kept.connections.get('org_a')).not.toContain(
      connection('org_a').salesforce!.accessToken,
    );
    expect(kept.connections.get('org_a')).not.toContain(connection('org_a').initlive!.apiKey);
  });

  it('a store emptied while no process ran: the next process finds the loss and puts the connections back', async () => {
    const before = store();
    await epochOf(before).check();
    await before.connections.witnessWith(witness);
    await before.connections.update('org_a', () => connection('org_a'));
    await before.connections.update('org_b', () => connection('org_b'));
    await before.connections.update('org_gone', () => connection('org_gone'));
    await before.connections.delete('org_gone');
    const was = await before.positions.get(STATE_EPOCH);

    const emptied = store();
    const check = await epochOf(emptied).check();
    expect(check).toMatchObject({ lost: true, restored: 2 });
    const epoch = await emptied.positions.get(STATE_EPOCH);
    expect(epoch).not.toBeNull();
    expect(epoch).not.toBe(was);
    expect(check.lost && check.epoch).toBe(epoch);
    expect((await emptied.connections.list()).map((c) => c.orgId).sort()).toEqual([
      'org_a',
      'org_b',
    ]);
    expect(await emptied.connections.get('org_a')).toEqual(connection('org_a'));
    expect((await witness.read()).epoch).toBe(epoch);

    // A third process finds everything in order: one repair per loss.
    expect(await epochOf(emptied).check()).toEqual({ lost: false });
  });

  it('a repair cut short after the new epoch but before the witness heard of it is started again', async () => {
    const before = store();
    await epochOf(before).check();
    await before.connections.witnessWith(witness);
    await before.connections.update('org_a', () => connection('org_a'));

    // The process that found the loss wrote the new epoch and died before putting anything back.
    const emptied = store();
    await emptied.positions.compareAndSet(STATE_EPOCH, null, 'epoch_new');
    const check = await epochOf(emptied).check();
    expect(check).toEqual({ lost: true, epoch: 'epoch_new', restored: 1 });
    expect(await emptied.connections.get('org_a')).toEqual(connection('org_a'));
    expect((await witness.read()).epoch).toBe('epoch_new');
  });

  it('a running process that sees the epoch go also puts back connections it did not hold', async () => {
    const shared = store();
    const running = epochOf(shared);
    await running.check();
    await shared.connections.witnessWith(witness);
    await shared.connections.update('org_a', () => connection('org_a'));

    // A FLUSHALL, which the witness does not hear of (delete() through the store would).
    await shared.inner.delete('org_a');
    await shared.positions.compareAndSet(
      STATE_EPOCH,
      await shared.positions.get(STATE_EPOCH),
      'epoch_other',
    );
    const check = await running.check();
    expect(check).toEqual({ lost: true, epoch: 'epoch_other', restored: 1 });
    expect(await shared.connections.get('org_a')).toEqual(connection('org_a'));
  });

  it('a record the witness keeps that does not open with this key is reported, not put back, and the rest is', async () => {
    const before = store();
    await epochOf(before).check();
    await before.connections.witnessWith(witness);
    await before.connections.update('org_a', () => connection('org_a'));
    const otherKey = new MemoryConnectionStore({
      secrets: createSecretBox(generateEncryptionKey()),
    });
    await otherKey.update('org_x', () => connection('org_x'));
    await witness.recordConnection('org_x', await otherKey.raw('org_x'));

    const emptied = store();
    expect(await epochOf(emptied).check()).toMatchObject({ lost: true, restored: 1 });
    expect((await emptied.connections.list()).map((c) => c.orgId)).toEqual(['org_a']);
  });
  it('keeps the source positions, at most one write per position and interval, and puts them back after a loss', async () => {
    const before = store();
    const positions = new WitnessedPositionStore(before.positions, witness, 60_000);
    await epochOf({ ...before, positions }).check();
    await positions.set('source:initlive:org_a:feed', '10');
    await positions.set('source:initlive:org_a:feed', '11');
    expect(await positions.compareAndSet('source:salesforce:org_a:replay', null, '900')).toBe(true);
    expect(await positions.compareAndSet('source:salesforce:org_a:replay', 'x', '901')).toBe(false);
    await positions.set('linked:org_a', 'run_1');
    // Nothing written before the interval; then the latest of each source position only.
    expect((await witness.read()).positions).toEqual(new Map());
    await positions.flush();
    expect((await witness.read()).positions).toEqual(
      new Map([
        ['source:initlive:org_a:feed', '11'],
        ['source:salesforce:org_a:replay', '900'],
      ]),
    );

    // Redis comes back empty; one source holder already wrote its own cursor back.
    const emptied = store();
    await emptied.positions.set('source:salesforce:org_a:replay', '950');
    expect(await epochOf(emptied).check()).toMatchObject({ lost: true });
    expect(await emptied.positions.get('source:initlive:org_a:feed')).toBe('11');
    expect(await emptied.positions.get('source:salesforce:org_a:replay')).toBe('950');
    // The "everything linked" marker named links that are gone: not put back.
    expect(await emptied.positions.get('linked:org_a')).toBeNull();
    await positions.close();
  });
});

describe('WitnessedPositionStore', () => {
  let transport: MemoryTransport;
  beforeAll(async () => {
    transport = new MemoryTransport();
    await transport.ensureTopics([stateWitnessTopicSpec(stateWitnessTopic('conformance'))]);
  });
  afterAll(() => transport.close());

  describePositionStoreConformance('witnessed (memory)', async () => {
    const witness = new StateWitness({
      transport,
      topic: stateWitnessTopic('conformance'),
      logger: silentLogger,
    });
    const inner = new MemoryPositionStore();
    const store = new WitnessedPositionStore(inner, witness);
    const handles: WitnessedPositionStore[] = [store];
    return {
      store,
      openAnother: async () => {
        const handle = new WitnessedPositionStore(
          new MemoryPositionStore({ sharedWith: inner }),
          witness,
        );
        handles.push(handle);
        return handle;
      },
      cleanup: async () => {
        await Promise.all(handles.map((h) => h.close()));
      },
    };
  });
});

describe('a source lease taken on a store that lost its data', () => {
  /** One Redis, emptied in place under a running process. */
  class EmptiablePositions implements PositionStore {
    current = new MemoryPositionStore();
    get(name: string) {
      return this.current.get(name);
    }
    set(name: string, value: string) {
      return this.current.set(name, value);
    }
    compareAndSet(name: string, expected: string | null, value: string) {
      return this.current.compareAndSet(name, expected, value);
    }
    close() {
      return this.current.close();
    }
  }

  it('finds the loss and puts the witnessed cursor back before the readers start', async () => {
    const transport = new MemoryTransport();
    const topic = stateWitnessTopic('lease');
    await transport.ensureTopics([stateWitnessTopicSpec(topic)]);
    const witness = new StateWitness({ transport, topic, logger: silentLogger });
    const redis = new EmptiablePositions();
    const positions = new WitnessedPositionStore(redis, witness, 60_000);
    const connections = new WitnessedConnectionStore(new MemoryConnectionStore({ secrets }));
    const directory = new ManagedOrgDirectory({
      store: connections,
      logger: silentLogger,
      oauth: { loginUrl: 'https://login.example.invalid', clientId: 'client' },
      apiVersion: '62.0',
      salesforceClientTag: 'InitLiveSync',
      initliveOrigin: 'salesforce-sync',
      pollIntervalMs: 0,
    });
    directory.watchStateEpoch(
      new StateEpoch({ positions, logger: silentLogger, witness, connections }),
    );
    const losses: string[] = [];
    directory.on('state-lost', (epoch) => losses.push(epoch));
    await directory.start();
    const cursor = 'source:initlive:o1:feed';
    await positions.set(cursor, '42');
    await positions.flush();

    // Redis comes back empty, the lock with it: the lease is free before any poll of the
    // directory has looked at the epoch, and the source reads its cursor as it starts.
    redis.current = new MemoryPositionStore();
    const seen: Array<string | null> = [];
    const lease = new SourceLease(
      { orgs: new StaticOrgDirectory([orgRuntime({} as InitLiveApi, 'o1')]), logger: silentLogger },
      { lock: new MemoryLock(), leaseMs: 1_500, beforeStart: () => directory.checkState() },
      {
        start: async () => {
          seen.push(await positions.get(cursor));
        },
        stop: () => Promise.resolve(),
      },
    );
    try {
      await lease.start();
      expect(seen).toEqual(['42']);
      expect(losses).toHaveLength(1);
      // The directory's next poll does not find the same loss again.
      await directory.reload();
      expect(losses).toHaveLength(1);
    } finally {
      await lease.stop();
      await directory.stop();
      await positions.close();
      await transport.close();
    }
  });
});

describe('state witness: the sinks’ parked-write marks', () => {
  it('keeps marks per sink, organization, generation and partition; a cleared mark reads as gone', async () => {
    const transport = new MemoryTransport();
    const topic = stateWitnessTopic('marks');
    await transport.ensureTopics([stateWitnessTopicSpec(topic)]);
    const witness = new StateWitness({ transport, topic, logger: silentLogger });
    await witness.mark('salesforce', 'org/with-slash', 'gen-1', [
      [0, '12'],
      [2, '40'],
    ]);
    await witness.mark('initlive', 'org_b', 'gen-2', [[1, '7']]);
    await witness.mark('salesforce', 'org_b', 'gen-3', [[1, '9']]);
    await witness.clear('salesforce', 'org/with-slash', 'gen-1', [2]);
    expect(await witness.marksOf('salesforce')).toEqual([
      { orgId: 'org/with-slash', generation: 'gen-1', partition: 0, offset: '12' },
      { orgId: 'org_b', generation: 'gen-3', partition: 1, offset: '9' },
    ]);
    expect(await witness.marksOf('initlive')).toEqual([
      { orgId: 'org_b', generation: 'gen-2', partition: 1, offset: '7' },
    ]);
    // The epoch, connections and positions read as before beside them.
    expect((await witness.read()).epoch).toBeNull();
    await transport.close();
  });

  it('rejects a mark the topic did not take (unlike its best-effort writes)', async () => {
    const transport = new MemoryTransport();
    const witness = new StateWitness({ transport, topic: 'nowhere', logger: silentLogger });
    await transport.close();
    await expect(witness.mark('salesforce', 'org', 'gen', [[0, '1']])).rejects.toBeDefined();
    // The best-effort writes only log.
    await expect(witness.recordEpoch('epoch_x')).resolves.toBeUndefined();
  });
});
