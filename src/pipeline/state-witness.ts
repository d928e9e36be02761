import type { TopicSpec, Transport } from '../core/transport';
import { toSyncError } from '../errors';
import type { Logger } from '../logger';
import type { ParkMark, ParkMarks } from '../sink/park-marks';
import type { PartitionOffsets } from '../sink/parked-writes';

const EPOCH_KEY = 'epoch';
const CONNECTION_PREFIX = 'connection/';
const POSITION_PREFIX = 'position/';
/** `parked/<sink>/<org>/<generation>/<partition>` -> the first offset parked (ParkMarks). */
const PARKED_PREFIX = 'parked/';

/** The topic name under the deployment's topic prefix. */
export function stateWitnessTopic(topicPrefix: string): string {
  return `${topicPrefix}.connector-state`;
}

/** One partition (order between keys does not matter), compacted: the latest per key is kept. */
export function stateWitnessTopicSpec(topic: string, replicationFactor?: number): TopicSpec {
  return {
    name: topic,
    partitions: 1,
    ...(replicationFactor !== undefined ? { replicationFactor } : {}),
    config: { 'cleanup.policy': 'compact' },
  };
}

export interface WitnessedState {
  /** The state epoch the store held last time anyone looked; null before the first. */
  epoch: string | null;
  /** Organization id -> its connection record as the store held it (sealed). */
  connections: Map<string, string>;
  /** Source position name -> a value it held (at most a second or so behind). */
  positions: Map<string, string>;
  /** Sink -> where its parked writes start, per organization, generation and partition. */
  parked: Map<string, ParkMark[]>;
}

/**
 * A copy, outside Redis, of what the connector cannot rebuild when Redis loses its data: the
 * state epoch, the organizations' connections (sealed as stored, so no secret is readable on
 * the topic) and the sources' positions. Kept on a compacted Kafka topic, as Kafka Connect
 * keeps its connector configs and source offsets. A process that finds Redis empty reads it:
 * an epoch here means the store held state before (it lost it while no process was watching),
 * and the connections and positions are put back.
 *
 * Writes are best effort: Redis stays the source of truth, and a write that fails is logged
 * and made good by the next one (every process writes all connections when it starts; a
 * position is written again at its next move). The exception is the sinks' parked-write marks
 * (ParkMarks): those reject, so that a batch whose records were parked does not commit before
 * the witness has them.
 */
export class StateWitness implements ParkMarks {
  constructor(private readonly deps: { transport: Transport; topic: string; logger: Logger }) {}

  async read(): Promise<WitnessedState> {
    const latest = await this.deps.transport.readLatest(this.deps.topic);
    const connections = new Map<string, string>();
    const positions = new Map<string, string>();
    const parked = new Map<string, ParkMark[]>();
    let epoch: string | null = null;
    for (const [key, value] of latest) {
      if (key === EPOCH_KEY) epoch = value.length > 0 ? value.toString('utf8') : null;
      else if (key.startsWith(CONNECTION_PREFIX) && value.length > 0) {
        connections.set(key.slice(CONNECTION_PREFIX.length), value.toString('utf8'));
      } else if (key.startsWith(POSITION_PREFIX) && value.length > 0) {
        positions.set(key.slice(POSITION_PREFIX.length), value.toString('utf8'));
      } else if (key.startsWith(PARKED_PREFIX) && value.length > 0) {
        // The organization id is the middle part: it may hold a slash, the others do not.
        const parts = key.slice(PARKED_PREFIX.length).split('/');
        const [sink, partition, generation] = [parts[0], parts.at(-1), parts.at(-2)];
        const orgId = parts.slice(1, -2).join('/');
        if (!sink || !orgId || !generation || !partition) continue;
        const list = parked.get(sink) ?? [];
        list.push({ orgId, generation, partition: Number(partition), offset: value.toString() });
        parked.set(sink, list);
      }
    }
    return { epoch, connections, positions, parked };
  }

  recordEpoch(epoch: string): Promise<void> {
    return this.write([{ key: EPOCH_KEY, value: Buffer.from(epoch, 'utf8') }]);
  }

  /** The connection as now stored; null: it was removed. */
  recordConnection(orgId: string, sealed: string | null): Promise<void> {
    return this.recordConnections([[orgId, sealed]]);
  }

  recordConnections(entries: ReadonlyArray<[orgId: string, sealed: string | null]>): Promise<void> {
    return this.write(
      entries.map(([orgId, sealed]) => ({
        key: `${CONNECTION_PREFIX}${orgId}`,
        value: Buffer.from(sealed ?? '', 'utf8'),
      })),
    );
  }

  recordPositions(entries: ReadonlyArray<[name: string, value: string]>): Promise<void> {
    return this.write(
      entries.map(([name, value]) => ({
        key: `${POSITION_PREFIX}${name}`,
        value: Buffer.from(value, 'utf8'),
      })),
    );
  }

  mark(sink: string, orgId: string, generation: string, marks: PartitionOffsets): Promise<void> {
    return this.deps.transport.send(
      this.deps.topic,
      marks.map(([partition, offset]) => ({
        key: parkedKey(sink, orgId, generation, partition),
        value: Buffer.from(offset, 'utf8'),
      })),
    );
  }

  clear(
    sink: string,
    orgId: string,
    generation: string,
    partitions: readonly number[],
  ): Promise<void> {
    if (partitions.length === 0) return Promise.resolve();
    return this.deps.transport.send(
      this.deps.topic,
      partitions.map((partition) => ({
        key: parkedKey(sink, orgId, generation, partition),
        value: Buffer.alloc(0),
      })),
    );
  }

  async marksOf(sink: string): Promise<ParkMark[]> {
    return (await this.read()).parked.get(sink) ?? [];
  }

  private async write(records: Array<{ key: string; value: Buffer }>): Promise<void> {
    if (records.length === 0) return;
    try {
      await this.deps.transport.send(this.deps.topic, records);
    } catch (err) {
      this.deps.logger.warn('the state witness was not updated; the next write makes it good', {
        keys: records.length,
        err: toSyncError(err),
      });
    }
  }
}

function parkedKey(sink: string, orgId: string, generation: string, partition: number): string {
  return `${PARKED_PREFIX}${sink}/${orgId}/${generation}/${partition}`;
}
