import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { OrgIdentity } from './org';
import type { SetupSnapshot } from './setup';
import type { StoreSnapshot } from './store';
import type { TokenSnapshot } from './tokens';

/** What the demo keeps across restarts: the org's identity, its Contacts and its grants. */
export interface OrgState {
  version: 1;
  identity: OrgIdentity;
  /** Package, custom fields and CDC selection; absent in files saved before they were kept. */
  setup?: SetupSnapshot;
  store: StoreSnapshot;
  tokens: TokenSnapshot;
}

/** Reads a state file; undefined when it does not exist yet. A corrupt file is an error. */
export function loadState(path: string): OrgState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const state = JSON.parse(text) as OrgState;
  if (state.version !== 1) throw new Error(`Unsupported sandbox state file version in ${path}`);
  return state;
}

/** Writes atomically (temp file + rename) so a crash never leaves half a file. */
export function saveState(path: string, state: OrgState): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state));
  renameSync(tmp, path);
}
