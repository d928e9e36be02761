/**
 * A typed view of the parts of faye 1.4.3's Bayeux server this emulator relies on. faye ships
 * no types (jsforce's ambient 'faye' typing covers only the client), and two of the members
 * used here are internal, so the version is pinned in package.json and checked at start-up.
 *
 * Public API used: `new NodeAdapter({mount, timeout})`, `addExtension`, `handle(req, res)`,
 * `close()`; server extensions whose `incoming`/`outgoing` take three arguments receive the
 * HTTP request (faye/src/protocol/extensible.js, `fn.length >= 3`).
 *
 * Internal API used (faye/src/engines/proxy.js, reached as `adapter._server._engine`):
 * - `deliver(clientId, messages)`: queue messages on that client's open connection only;
 *   returns false when it has none. Used so replayed events reach one client, not the channel.
 * - `hasConnection(clientId)`: whether a long-poll connect is being held for the client.
 * - `destroyClient(clientId)`: forget a client; its held connect is flushed in a microtask.
 * - events `handshake(clientId)`, `disconnect(clientId)` (also fired when faye expires an idle
 *   client) and `connection:open(clientId)` (a connect is about to be held), via `bind`/`unbind`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const PINNED_FAYE_VERSION = '1.4.3';

export interface BayeuxMessage {
  channel?: string;
  clientId?: string;
  id?: string;
  error?: string;
  successful?: boolean;
  subscription?: string | string[];
  connectionType?: string;
  supportedConnectionTypes?: string[];
  version?: string;
  minimumVersion?: string;
  advice?: Record<string, unknown>;
  ext?: Record<string, unknown>;
  data?: unknown;
  [key: string]: unknown;
}

export type ExtensionCallback = (message: BayeuxMessage | null) => void;

/** Both methods must keep three declared parameters: faye passes the request only then. */
export interface FayeServerExtension {
  incoming(
    message: BayeuxMessage,
    request: IncomingMessage | null,
    callback: ExtensionCallback,
  ): void;
  outgoing(
    message: BayeuxMessage,
    request: IncomingMessage | null,
    callback: ExtensionCallback,
  ): void;
}

export type EngineEvent = 'handshake' | 'disconnect' | 'connection:open';

export interface FayeEngine {
  hasConnection(clientId: string): boolean;
  deliver(clientId: string, messages: BayeuxMessage[]): boolean;
  destroyClient(clientId: string): void;
  bind(event: EngineEvent, listener: (clientId: string) => void): void;
  unbind(event: EngineEvent, listener: (clientId: string) => void): void;
}

export interface FayeNodeAdapter {
  addExtension(extension: FayeServerExtension): void;
  handle(request: IncomingMessage, response: ServerResponse): void;
  close(): void;
}

interface FayeModule {
  VERSION: string;
  NodeAdapter: new (options: { mount: string; timeout: number }) => FayeNodeAdapter;
}

// faye has no type declarations of its own, so it is loaded untyped and described above.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const faye = require('faye') as FayeModule;

/**
 * Creates the Bayeux server and returns it with its engine, after checking that the installed
 * faye is the version whose internals were read.
 */
export function createFayeServer(options: { mount: string; timeoutSeconds: number }): {
  adapter: FayeNodeAdapter;
  engine: FayeEngine;
} {
  if (faye.VERSION !== PINNED_FAYE_VERSION) {
    throw new Error(
      `The CometD emulator relies on faye ${PINNED_FAYE_VERSION} internals; found ${faye.VERSION}`,
    );
  }
  const adapter = new faye.NodeAdapter({ mount: options.mount, timeout: options.timeoutSeconds });
  const engine = (adapter as unknown as { _server?: { _engine?: unknown } })._server?._engine;
  if (!isFayeEngine(engine)) throw new Error('faye engine internals are not where expected');
  return { adapter, engine };
}

function isFayeEngine(value: unknown): value is FayeEngine {
  if (typeof value !== 'object' || value === null) return false;
  const engine = value as Record<string, unknown>;
  return ['hasConnection', 'deliver', 'destroyClient', 'bind', 'unbind'].every(
    (name) => typeof engine[name] === 'function',
  );
}
