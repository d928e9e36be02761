import type { RecordCodec, RecordTypes } from '../core/records';
import type { PositionStore } from '../core/position-store';
import type { TopicNames, TopicRole } from '../core/topics';
import { topicRoles } from '../core/topics';
import type { Transport } from '../core/transport';
import type { VersionStore } from '../core/version-store';
import type { Logger } from '../logger';
import type { OrgDirectory } from '../orgs/org-directory';
import type { SyncEvents } from './events';
import type { ContactFieldWatch } from './field-watch';

/**
 * Everything a pipeline component needs, handed in by main.ts (or a test). Components never
 * read the environment or create clients themselves, so tests pass in-memory or real adapters
 * through this one door.
 */
export interface PipelineDeps {
  transport: Transport;
  codec: RecordCodec;
  store: VersionStore;
  positions: PositionStore;
  orgs: OrgDirectory;
  topics: TopicNames;
  logger: Logger;
  events: SyncEvents;
  /** Consumer-group prefix; each component appends its role. */
  groupPrefix: string;
  now: () => number;
  /** Contact field drift (held fields, rechecks); absent: nothing is ever held. */
  fields?: ContactFieldWatch;
}

export type RoleRecord<R extends TopicRole> = RecordTypes[(typeof topicRoles)[R]];

/**
 * Encodes records with their topic's schema and produces them; resolves once the broker has
 * acknowledged all of them, which is when a source may move its stored position.
 */
export async function produce<R extends TopicRole>(
  deps: Pick<PipelineDeps, 'transport' | 'codec' | 'topics'>,
  role: R,
  records: Array<{ key: string; value: RoleRecord<R>; headers?: Record<string, string> }>,
): Promise<void> {
  if (records.length === 0) return;
  const type = topicRoles[role];
  const encoded = await Promise.all(
    records.map(async (r) => ({
      key: r.key,
      value: await deps.codec.encode(type, r.value as never),
      ...(r.headers ? { headers: r.headers } : {}),
    })),
  );
  await deps.transport.send(deps.topics[role], encoded);
}
