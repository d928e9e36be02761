import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { recordSchemaFiles, type RecordTypeName } from '../../core/records';

/**
 * schemas/ sits at the project root; this file runs from src/infra/avro (ts-jest, ts-node)
 * or dist/src/infra/avro (compiled), so both depths are tried.
 */
function schemasDir(): string {
  for (const candidate of [
    join(__dirname, '../../../schemas'),
    join(__dirname, '../../../../schemas'),
  ]) {
    if (existsSync(join(candidate, recordSchemaFiles.SyncRunEvent))) return candidate;
  }
  throw new Error(`schemas/ directory not found near ${__dirname}`);
}

/** The current schema (parsed JSON) of every record type, read once. */
export function loadSchemas(): Record<RecordTypeName, object> {
  const dir = schemasDir();
  const out = {} as Record<RecordTypeName, object>;
  for (const [type, file] of Object.entries(recordSchemaFiles) as Array<[RecordTypeName, string]>) {
    out[type] = JSON.parse(readFileSync(join(dir, file), 'utf8')) as object;
  }
  return out;
}

/**
 * Builds an avsc Type. Unions stay unwrapped (plain JS values): every union in our schemas has
 * branches of distinct JS types, so decoding is unambiguous.
 */
export function avroType(schema: object | string): avro.Type {
  return avro.Type.forSchema(
    typeof schema === 'string' ? (JSON.parse(schema) as avro.Schema) : (schema as avro.Schema),
    {
      wrapUnions: false,
    },
  );
}
