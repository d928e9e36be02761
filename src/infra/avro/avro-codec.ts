import type avro from 'avsc';
import { SyncError, isSyncError } from '../../errors';
import type { RecordCodec, RecordTypeName, RecordTypes } from '../../core/records';
import { avroType, loadSchemas } from './schemas';
import {
  MemorySchemaSource,
  RegistrySchemaSource,
  type Compatibility,
  type SchemaSource,
} from './schema-source';

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

export interface AvroCodecOptions {
  /** Prepended to every subject, so tests (or several deployments) can share one registry. */
  subjectPrefix?: string;
  /** Schemas to write with, by type; defaults to schemas/*.avsc. Tests pass older versions. */
  schemas?: Partial<Record<RecordTypeName, object>>;
}

/**
 * Avro in the Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian
 * integer, then the Avro binary body. Subjects follow the record-name strategy
 * (`<prefix>com.initlive.sync.<Type>`), since each record type has one schema whatever the topic.
 *
 * Decoding resolves the writer's schema (looked up by id) into the current reader schema, so a
 * record written by an older or newer version of the connector reads as today's shape as long
 * as the change was compatible (e.g. an optional field with a default was added).
 */
export class AvroCodec implements RecordCodec {
  private readonly readers: Record<RecordTypeName, avro.Type>;
  private readonly writers: Record<RecordTypeName, { type: avro.Type; text: string }>;
  private readonly writerIds = new Map<RecordTypeName, Promise<number>>();
  private readonly resolvers = new Map<string, Promise<avro.Resolver>>();
  /** Where records are framed before being copied out; grows to the largest record seen. */
  private scratch = Buffer.allocUnsafe(4096);

  constructor(
    private readonly source: SchemaSource,
    private readonly options: AvroCodecOptions = {},
  ) {
    const current = loadSchemas();
    this.readers = {} as Record<RecordTypeName, avro.Type>;
    this.writers = {} as Record<RecordTypeName, { type: avro.Type; text: string }>;
    for (const type of Object.keys(current) as RecordTypeName[]) {
      this.readers[type] = avroType(current[type]);
      const writeSchema = options.schemas?.[type] ?? current[type];
      this.writers[type] = { type: avroType(writeSchema), text: JSON.stringify(writeSchema) };
    }
  }

  subjectOf(type: RecordTypeName): string {
    return `${this.options.subjectPrefix ?? ''}com.initlive.sync.${type}`;
  }

  /** Registers every writer schema up front, so the first produce does not pay for it. */
  async registerAll(): Promise<void> {
    await Promise.all((Object.keys(this.writers) as RecordTypeName[]).map((t) => this.writerId(t)));
  }

  private writerId(type: RecordTypeName): Promise<number> {
    let id = this.writerIds.get(type);
    if (!id) {
      id = this.source.register(this.subjectOf(type), this.writers[type].text);
      // A failed registration must be retried on the next call, not cached forever.
      id.catch(() => this.writerIds.delete(type));
      this.writerIds.set(type, id);
    }
    return id;
  }

  async encode<T extends RecordTypeName>(type: T, value: RecordTypes[T]): Promise<Buffer> {
    const writer = this.writers[type].type;
    // The check without a hook is avsc's compiled fast path, which stops at the first problem;
    // only a value that fails it is walked again to name every problem.
    if (!writer.isValid(value)) {
      const problems: string[] = [];
      writer.isValid(value, {
        errorHook: (path: string[], v: unknown) =>
          problems.push(`${path.join('.') || '(record)'} = ${JSON.stringify(v)}`),
      });
      throw new SyncError(
        'SCHEMA_MISMATCH',
        `${type} does not match its Avro schema: ${problems.slice(0, 5).join('; ')}`,
        {
          context: { type, problems: problems.slice(0, 20) },
        },
      );
    }
    const id = await this.writerId(type);
    // Framed in a scratch buffer, then copied once into a buffer of the exact size (toBuffer
    // would copy the body out of its own scratch buffer first, and the frame copy it again).
    // Nothing awaits between writing the scratch buffer and copying it out.
    let end = writer.encode(value, this.scratch, HEADER_BYTES);
    if (end < 0) {
      this.scratch = Buffer.allocUnsafe(
        Math.max(2 * this.scratch.length, this.scratch.length - end),
      );
      end = writer.encode(value, this.scratch, HEADER_BYTES);
    }
    this.scratch.writeUInt8(MAGIC_BYTE, 0);
    this.scratch.writeUInt32BE(id, 1);
    const out = Buffer.allocUnsafe(end);
    this.scratch.copy(out, 0, 0, end);
    return out;
  }

  async decode<T extends RecordTypeName>(type: T, bytes: Buffer): Promise<RecordTypes[T]> {
    if (bytes.length < HEADER_BYTES || bytes.readUInt8(0) !== MAGIC_BYTE) {
      throw new SyncError(
        'SCHEMA_MISMATCH',
        `Not a Confluent-framed Avro record (${bytes.length} bytes)`,
        {
          context: { type },
        },
      );
    }
    const id = bytes.readUInt32BE(1);
    const resolver = await this.resolver(type, id);
    try {
      // decode() reads in place (fromBuffer would need a view of the body first); the checks
      // are fromBuffer's: a truncated body and trailing bytes are both errors.
      const { value, offset } = this.readers[type].decode(bytes, HEADER_BYTES, resolver);
      if (offset < 0) throw new Error('truncated buffer');
      if (offset !== bytes.length) throw new Error('trailing data');
      return value as RecordTypes[T];
    } catch (err) {
      throw new SyncError(
        'SCHEMA_MISMATCH',
        `Cannot decode ${type} written with schema id ${id}: ${(err as Error).message}`,
        {
          cause: err,
          context: { type, schemaId: id },
        },
      );
    }
  }

  private resolver(type: RecordTypeName, id: number): Promise<avro.Resolver> {
    const key = `${type}:${id}`;
    let resolver = this.resolvers.get(key);
    if (!resolver) {
      resolver = this.source.schemaById(id).then((text) => {
        try {
          return this.readers[type].createResolver(avroType(text));
        } catch (err) {
          if (isSyncError(err)) throw err;
          throw new SyncError(
            'SCHEMA_MISMATCH',
            `Schema id ${id} cannot be read as ${type}: ${(err as Error).message}`,
            {
              cause: err,
              context: { type, schemaId: id },
            },
          );
        }
      });
      resolver.catch(() => this.resolvers.delete(key));
      this.resolvers.set(key, resolver);
    }
    return resolver;
  }
}

/** Codec for the in-memory transport: the same wire format, ids local to this process. */
export function createEmbeddedCodec(options: AvroCodecOptions = {}): AvroCodec {
  return new AvroCodec(new MemorySchemaSource(), options);
}

/** Codec backed by a Confluent-compatible schema registry. */
export function createRegistryCodec(
  registryUrl: string,
  compatibility: Compatibility = 'BACKWARD',
  options: AvroCodecOptions = {},
): AvroCodec {
  return new AvroCodec(new RegistrySchemaSource(registryUrl, compatibility), options);
}
