import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { SyncError } from '../../errors';

/**
 * Where schema ids come from. The registry source makes ids shared by every process on the
 * cluster; the memory source gives one process its own ids for the in-memory transport.
 */
export interface SchemaSource {
  /** Registers (idempotently) the schema under the subject and returns its global id. */
  register(subject: string, schema: string): Promise<number>;
  /** The schema text with that id. */
  schemaById(id: number): Promise<string>;
}

export class MemorySchemaSource implements SchemaSource {
  private readonly byId = new Map<number, string>();
  private readonly byText = new Map<string, number>();

  async register(_subject: string, schema: string): Promise<number> {
    const canonical = JSON.stringify(JSON.parse(schema));
    let id = this.byText.get(canonical);
    if (id === undefined) {
      id = this.byId.size + 1;
      this.byId.set(id, canonical);
      this.byText.set(canonical, id);
    }
    return id;
  }

  async schemaById(id: number): Promise<string> {
    const schema = this.byId.get(id);
    if (schema === undefined)
      throw new SyncError('SCHEMA_MISMATCH', `Unknown schema id ${id} in the embedded registry`);
    return schema;
  }
}

export type Compatibility =
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE'
  | 'NONE';

interface HttpLikeError {
  status?: number;
  message?: string;
}

function registryError(action: string, err: unknown): SyncError {
  const status = (err as HttpLikeError | null)?.status;
  const message = `Schema registry ${action} failed: ${(err as HttpLikeError | null)?.message ?? String(err)}`;
  // 409 = incompatible schema, 422 = invalid schema: a retry cannot fix either.
  if (status !== undefined && status >= 400 && status < 500) {
    return new SyncError('SCHEMA_MISMATCH', message, { cause: err, context: { status } });
  }
  return new SyncError('SCHEMA_REGISTRY_UNAVAILABLE', message, { cause: err, context: { status } });
}

/**
 * A Confluent-compatible registry (Confluent, Apicurio's ccompat API, Karapace).
 *
 * Registration always sets the subject's compatibility explicitly first. Registries answer
 * a subject without its own rule with the global default (Apicurio: NONE), and the client
 * library refuses to register when that differs from the rule it was asked for; setting the
 * rule first makes first-time and repeat registrations take the same path.
 */
export class RegistrySchemaSource implements SchemaSource {
  private readonly registry: SchemaRegistry;
  private readonly registered = new Map<string, number>();
  private readonly schemas = new Map<number, string>();
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly compatibility: Compatibility = 'BACKWARD',
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.registry = new SchemaRegistry({ host: this.baseUrl, retry: { retries: 3 } });
  }

  async register(subject: string, schema: string): Promise<number> {
    const memoKey = `${subject}\u0000${schema}`;
    const known = this.registered.get(memoKey);
    if (known !== undefined) return known;
    await this.setCompatibility(subject);
    let id: number;
    try {
      ({ id } = await this.registry.register(
        { type: 'AVRO' as never, schema },
        { subject, compatibility: this.compatibility as never },
      ));
    } catch (err) {
      throw registryError(`registering ${subject}`, err);
    }
    this.registered.set(memoKey, id);
    this.schemas.set(id, schema);
    return id;
  }

  /**
   * PUT /config/{subject}: idempotent, and accepted before the subject exists. Apicurio creates
   * the subject's rule on the first PUT without a lock, so two processes starting together can
   * both try to create it: the loser gets 409 "A rule named 'COMPATIBILITY' already exists", and
   * the same PUT again (now an update of the rule) succeeds.
   */
  private async setCompatibility(subject: string, attempt = 1): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}/config/${encodeURIComponent(subject)}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ compatibility: this.compatibility }),
      });
    } catch (err) {
      throw registryError(`setting compatibility of ${subject}`, err);
    }
    if (response.ok) return;
    const text = await response.text().catch(() => '');
    if (response.status === 409 && attempt < 3) return this.setCompatibility(subject, attempt + 1);
    throw registryError(`setting compatibility of ${subject}`, {
      status: response.status,
      message: text,
    });
  }

  async schemaById(id: number): Promise<string> {
    const cached = this.schemas.get(id);
    if (cached !== undefined) return cached;
    let text: string;
    try {
      const schema = (await this.registry.getSchema(id)) as unknown as { schema(): unknown };
      text = JSON.stringify(schema.schema());
    } catch (err) {
      throw registryError(`fetching schema id ${id}`, err);
    }
    this.schemas.set(id, text);
    return text;
  }
}
