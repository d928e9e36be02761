import { randomUUID } from 'node:crypto';
import type { RecordTypeName } from '../../src/core/records';
import type { ConsumedRecord } from '../../src/core/transport';
import { createRegistryCodec } from '../../src/infra/avro/avro-codec';
import { KafkaTransport } from '../../src/infra/kafka/kafka-transport';
import { sampleRecords } from '../fixtures/records';
import { integrationEnv } from '../harness/env';

describe('Avro over real Kafka with schema ids from the real registry', () => {
  it('every record type is produced, consumed and decoded equal', async () => {
    const env = integrationEnv();
    const id = randomUUID().slice(0, 8);
    const codec = createRegistryCodec(env.schemaRegistryUrl, 'BACKWARD', {
      subjectPrefix: `ak${id}.`,
    });
    const transport = new KafkaTransport({
      brokers: env.kafkaBrokers,
      clientId: `avro-kafka-${id}`,
    });
    const topic = `avro-kafka-${id}`;
    await transport.ensureTopics([{ name: topic, partitions: 3 }]);
    const types = Object.keys(sampleRecords) as RecordTypeName[];
    const received: ConsumedRecord[] = [];
    const sub = await transport.subscribe({
      groupId: `avro-kafka-${id}`,
      topics: [topic],
      fromBeginning: true,
      handleBatch: async (batch) => void received.push(...batch.records),
    });
    try {
      await sub.ready();
      await transport.send(
        topic,
        await Promise.all(
          types.map(async (t) => ({
            key: t,
            value: await codec.encode(t, sampleRecords[t] as never),
            headers: { type: t },
          })),
        ),
      );
      const deadline = Date.now() + 30_000;
      while (received.length < types.length && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(received).toHaveLength(types.length);
      // A fresh codec (another process) decodes by the ids the registry assigned.
      const reader = createRegistryCodec(env.schemaRegistryUrl, 'BACKWARD', {
        subjectPrefix: `ak${id}.`,
      });
      for (const r of received) {
        const type = r.headers.type as RecordTypeName;
        expect(r.value.readUInt8(0)).toBe(0);
        expect(await reader.decode(type, r.value)).toEqual(sampleRecords[type]);
      }
    } finally {
      await sub.stop();
      await transport.close();
    }
  });
});
