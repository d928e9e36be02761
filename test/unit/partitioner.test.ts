import { randomBytes } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import type { PartitionMetadata } from 'kafkajs';
import { murmur2, partitionForKey } from '../../src/core/transport';

// kafkajs's own DefaultPartitioner is the reference: the in-memory transport must place keyed
// records exactly where Kafka would.
const kafkajsPartition = (key: string, partitions: number): number => {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, i) => ({
    partitionErrorCode: 0,
    partitionId: i,
    leader: 1,
    replicas: [1],
    isr: [1],
  }));
  return partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
};

describe('partitionForKey', () => {
  // Reference values as kafkajs's murmur2 (a port of the Java client's Utils.murmur2) gives them.
  it.each([
    ['', 275646681],
    ['a', -1563381124],
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ])('murmur2(%p) = %p', (key, expected) => {
    expect(murmur2(key)).toBe(expected);
  });

  it('matches kafkajs DefaultPartitioner for random keys of every tail length and many partition counts', () => {
    const keys = [
      '',
      'é',
      'ünïcødé/😀',
      'org_1/staff_42',
      ...Array.from({ length: 300 }, (_, i) => randomBytes(1 + (i % 40)).toString('base64')),
    ];
    let mismatches = 0;
    for (const key of keys) {
      for (const partitions of [1, 2, 3, 6, 7, 12, 50, 1000]) {
        if (partitionForKey(key, partitions) !== kafkajsPartition(key, partitions)) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });

  it('spreads keys over partitions', () => {
    const used = new Set(Array.from({ length: 200 }, (_, i) => partitionForKey(`k${i}`, 6)));
    expect(used.size).toBe(6);
  });

  it('rejects a non-positive partition count', () => {
    expect(() => partitionForKey('k', 0)).toThrow(RangeError);
  });
});
