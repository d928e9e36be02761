import { createEmbeddedCodec } from '../../src/infra/avro/avro-codec';
import { loadSchemas } from '../../src/infra/avro/schemas';
import { MemorySchemaSource } from '../../src/infra/avro/schema-source';
import { AvroCodec } from '../../src/infra/avro/avro-codec';
import type { RecordTypeName } from '../../src/core/records';
import { sampleRecords, staffChangeSchemaWithout } from '../fixtures/records';

describe('embedded Avro codec', () => {
  const types = Object.keys(sampleRecords) as RecordTypeName[];

  it.each(types)('round-trips a %s in the Confluent wire format', async (type) => {
    const codec = createEmbeddedCodec();
    const bytes = await codec.encode(type, sampleRecords[type]);
    expect(bytes.readUInt8(0)).toBe(0);
    expect(bytes.readUInt32BE(1)).toBeGreaterThan(0);
    expect(await codec.decode(type, bytes)).toEqual(sampleRecords[type]);
  });

  it('rejects a record that does not match its schema, naming the bad field', async () => {
    const codec = createEmbeddedCodec();
    const bad = { ...sampleRecords.InitLiveStaffChange, sourceVersion: 'seven' };
    await expect(codec.encode('InitLiveStaffChange', bad as never)).rejects.toMatchObject({
      code: 'SCHEMA_MISMATCH',
      message: expect.stringContaining('sourceVersion'),
    });
  });

  it('rejects bytes that are not framed Avro with a clear error', async () => {
    const codec = createEmbeddedCodec();
    await expect(codec.decode('SyncRunEvent', Buffer.from('{"json":true}'))).rejects.toMatchObject({
      code: 'SCHEMA_MISMATCH',
    });
    await expect(
      codec.decode('SyncRunEvent', Buffer.from([0, 0, 0, 0, 99, 1])),
    ).rejects.toMatchObject({
      code: 'SCHEMA_MISMATCH',
      message: expect.stringContaining('99'),
    });
  });

  it('frames records of any size, and each encode returns its own bytes', async () => {
    const codec = createEmbeddedCodec();
    const small = sampleRecords.InitLiveStaffChange;
    // Larger than the codec's first scratch buffer (4 KiB), then larger again.
    const big = { ...small, values: { ...small.values, tags: Array(2_000).fill('Greeter') } };
    const bigger = { ...small, values: { ...small.values, tags: Array(9_000).fill('Greeter') } };
    const a = await codec.encode('InitLiveStaffChange', small);
    const b = await codec.encode('InitLiveStaffChange', big);
    const c = await codec.encode('InitLiveStaffChange', bigger);
    const d = await codec.encode('InitLiveStaffChange', small);
    expect(b.length).toBeGreaterThan(4096);
    expect(c.length).toBeGreaterThan(2 * 4096);
    expect(d).toEqual(a);
    expect(await codec.decode('InitLiveStaffChange', a)).toEqual(small);
    expect(await codec.decode('InitLiveStaffChange', b)).toEqual(big);
    expect(await codec.decode('InitLiveStaffChange', c)).toEqual(bigger);
  });

  it('rejects a record with trailing bytes or cut short', async () => {
    const codec = createEmbeddedCodec();
    const bytes = await codec.encode('InitLiveStaffChange', sampleRecords.InitLiveStaffChange);
    await expect(
      codec.decode('InitLiveStaffChange', Buffer.concat([bytes, Buffer.from([0])])),
    ).rejects.toMatchObject({
      code: 'SCHEMA_MISMATCH',
      message: expect.stringContaining('trailing'),
    });
    await expect(
      codec.decode('InitLiveStaffChange', bytes.subarray(0, bytes.length - 3)),
    ).rejects.toMatchObject({
      code: 'SCHEMA_MISMATCH',
      message: expect.stringContaining('truncated'),
    });
  });

  it('decodes a record written before an optional field was added', async () => {
    const source = new MemorySchemaSource();
    const current = loadSchemas().InitLiveStaffChange as { fields: Array<{ name: string }> };
    const oldSchema = staffChangeSchemaWithout('resync', current);
    const oldWriter = new AvroCodec(source, { schemas: { InitLiveStaffChange: oldSchema } });
    const { resync: _dropped, ...oldRecord } = sampleRecords.InitLiveStaffChange;
    const bytes = await oldWriter.encode('InitLiveStaffChange', oldRecord);

    const newReader = new AvroCodec(source);
    const decoded = await newReader.decode('InitLiveStaffChange', bytes);
    expect(decoded).toEqual({ ...oldRecord, resync: null });
  });

  it('decodes a write recorded before writes named their full-sync run', async () => {
    const source = new MemorySchemaSource();
    const current = loadSchemas().SalesforceWrite as { fields: Array<{ name: string }> };
    const oldWriter = new AvroCodec(source, {
      schemas: { SalesforceWrite: staffChangeSchemaWithout('runId', current) },
    });
    const { runId: _dropped, ...oldRecord } = sampleRecords.SalesforceWrite;
    const bytes = await oldWriter.encode('SalesforceWrite', oldRecord);
    const decoded = await new AvroCodec(source).decode('SalesforceWrite', bytes);
    expect(decoded).toEqual({ ...oldRecord, runId: null });
  });
});
