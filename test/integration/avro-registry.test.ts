import { randomUUID } from 'node:crypto';
import { AvroCodec, createRegistryCodec } from '../../src/infra/avro/avro-codec';
import { RegistrySchemaSource } from '../../src/infra/avro/schema-source';
import { loadSchemas } from '../../src/infra/avro/schemas';
import type { RecordTypeName } from '../../src/core/records';
import { sampleRecords, staffChangeSchemaWithout } from '../fixtures/records';

const registryUrl = (): string => {
  const url = process.env.SCHEMA_REGISTRY_URL;
  if (!url)
    throw new Error(
      'SCHEMA_REGISTRY_URL is not set: the integration harness must provide the registry',
    );
  return url;
};

describe('registry-backed Avro codec (real Apicurio, Confluent API)', () => {
  const prefix = (): string => `t${randomUUID().slice(0, 8)}.`;

  it('registers every schema with an explicit compatibility rule and round-trips each type', async () => {
    const subjectPrefix = prefix();
    const codec = createRegistryCodec(registryUrl(), 'BACKWARD', { subjectPrefix });
    await codec.registerAll();
    for (const type of Object.keys(sampleRecords) as RecordTypeName[]) {
      const bytes = await codec.encode(type, sampleRecords[type]);
      // A second process (fresh caches) must find the schema by id in the registry.
      const other = createRegistryCodec(registryUrl(), 'BACKWARD', { subjectPrefix });
      expect(await other.decode(type, bytes)).toEqual(sampleRecords[type]);
      const config = await fetch(
        `${registryUrl()}/config/${encodeURIComponent(codec.subjectOf(type))}`,
      );
      expect(await config.json()).toMatchObject({ compatibilityLevel: 'BACKWARD' });
    }
  });

  it('lets several processes starting at once register the same new subjects', async () => {
    // Apicurio creates a subject's compatibility rule on its first PUT /config without a lock:
    // processes starting together race for it, and the losers are told it already exists.
    const subjectPrefix = prefix();
    const codecs = Array.from({ length: 6 }, () =>
      createRegistryCodec(registryUrl(), 'BACKWARD', { subjectPrefix }),
    );
    await Promise.all(codecs.map((c) => c.registerAll()));
    const bytes = await Promise.all(
      codecs.map((c) => c.encode('SyncOutcome', sampleRecords.SyncOutcome)),
    );
    // One schema id for all of them.
    expect(new Set(bytes.map((b) => b.readUInt32BE(1))).size).toBe(1);
  });

  it('re-registers a subject that already exists without its own compatibility rule', async () => {
    const subjectPrefix = prefix();
    const codec = createRegistryCodec(registryUrl(), 'BACKWARD', { subjectPrefix });
    const subject = codec.subjectOf('SyncRunEvent');
    // Someone (an older deployment, a tool) registered it with no rule of its own.
    const raw = await fetch(`${registryUrl()}/subjects/${encodeURIComponent(subject)}/versions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(loadSchemas().SyncRunEvent) }),
    });
    expect(raw.status).toBe(200);
    const bytes = await codec.encode('SyncRunEvent', sampleRecords.SyncRunEvent);
    expect(await codec.decode('SyncRunEvent', bytes)).toEqual(sampleRecords.SyncRunEvent);
  });

  it('decodes a record written with the old schema after an optional field is added', async () => {
    const subjectPrefix = prefix();
    const current = loadSchemas().InitLiveStaffChange as { fields: Array<{ name: string }> };
    const oldWriter = new AvroCodec(new RegistrySchemaSource(registryUrl(), 'BACKWARD'), {
      subjectPrefix,
      schemas: { InitLiveStaffChange: staffChangeSchemaWithout('resync', current) },
    });
    const { resync: _dropped, ...oldRecord } = sampleRecords.InitLiveStaffChange;
    const oldBytes = await oldWriter.encode('InitLiveStaffChange', oldRecord);

    // The new version registers under BACKWARD compatibility: the registry accepts it.
    const newCodec = createRegistryCodec(registryUrl(), 'BACKWARD', { subjectPrefix });
    const newBytes = await newCodec.encode(
      'InitLiveStaffChange',
      sampleRecords.InitLiveStaffChange,
    );
    expect(newBytes.readUInt32BE(1)).not.toBe(oldBytes.readUInt32BE(1));
    expect(await newCodec.decode('InitLiveStaffChange', oldBytes)).toEqual({
      ...oldRecord,
      resync: null,
    });
  });

  it('refuses an incompatible schema change with a non-retriable error', async () => {
    const subjectPrefix = prefix();
    await createRegistryCodec(registryUrl(), 'BACKWARD', { subjectPrefix }).encode(
      'SyncRunEvent',
      sampleRecords.SyncRunEvent,
    );
    const current = loadSchemas().SyncRunEvent as { fields: Array<Record<string, unknown>> };
    // A new required field without a default cannot read old records.
    const incompatible = {
      ...current,
      fields: [...current.fields, { name: 'mandatory', type: 'string' }],
    };
    const codec = new AvroCodec(new RegistrySchemaSource(registryUrl(), 'BACKWARD'), {
      subjectPrefix,
      schemas: { SyncRunEvent: incompatible },
    });
    await expect(
      codec.encode('SyncRunEvent', { ...sampleRecords.SyncRunEvent, mandatory: 'x' } as never),
    ).rejects.toMatchObject({
      code: 'SCHEMA_MISMATCH',
      retriable: false,
      message: expect.stringContaining('registering'),
    });
  });
});
