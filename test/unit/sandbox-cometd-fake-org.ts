/**
 * A minimal stand-in for the sandbox's data side, enough to drive the CometD emulator: a token
 * table, a Contact table whose writes produce ContactWriteEvents, and a settable clock. Plus
 * helpers that connect jsforce's real streaming client to it.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { Connection } from 'jsforce';
import { StreamingExtension } from 'jsforce/api/streaming';

import { attachCometd } from '../../src/sandbox/salesforce/cometd';
import type {
  AccessTokenInfo,
  CometdControl,
  CometdDeps,
  ContactRecord,
  ContactWriteEvent,
  OrgWriteListener,
  WriteApi,
} from '../../src/sandbox/salesforce/model';

export const USER_ID = '005Dn000003XyZaIAK';
const ORG_ID = '00DDn00000Sandbox';

export interface WriteOptions {
  api?: WriteApi;
  client?: string | null;
  userId?: string;
}

export class FakeOrg implements CometdDeps {
  readonly retentionMs = 72 * 3600 * 1000;
  readonly apiVersion = '62.0';
  clockMs = Date.UTC(2025, 0, 1, 12, 0, 0);
  readonly records = new Map<string, ContactRecord>();
  private readonly tokens = new Map<string, AccessTokenInfo>();
  private readonly emitter = new EventEmitter();
  private sequence = 0;

  now(): number {
    return this.clockMs;
  }

  advance(ms: number): void {
    this.clockMs += ms;
  }

  issueToken(userId = USER_ID): string {
    this.sequence += 1;
    const token = `00DDn00000Sandbox!AQ.token${this.sequence}.${Math.random().toString(36).slice(2)}`;
    this.tokens.set(token, { userId, orgId: ORG_ID });
    return token;
  }

  revoke(token: string): void {
    this.tokens.delete(token);
    this.emitter.emit('revoked', token);
  }

  authenticate(accessToken: string): AccessTokenInfo | null {
    return this.tokens.get(accessToken) ?? null;
  }

  onTokenRevoked(listener: (accessToken: string) => void): () => void {
    this.emitter.on('revoked', listener);
    return () => this.emitter.off('revoked', listener);
  }

  onWrite(listener: OrgWriteListener): () => void {
    const forward = (events: ContactWriteEvent[]): void => listener(ORG_ID, events);
    this.emitter.on('write', forward);
    return () => this.emitter.off('write', forward);
  }

  create(fields: ContactRecord, options: WriteOptions = {}): ContactWriteEvent {
    this.sequence += 1;
    const id = `003Dn00000${String(this.sequence).padStart(5, '0')}AAA`;
    const stamp = this.restTimestamp();
    const userId = options.userId ?? USER_ID;
    const after: ContactRecord = {
      Id: id,
      IsDeleted: false,
      ...fields,
      Name: [fields.FirstName, fields.LastName].filter(Boolean).join(' '),
      OwnerId: userId,
      CreatedDate: stamp,
      CreatedById: userId,
      LastModifiedDate: stamp,
      LastModifiedById: userId,
      SystemModstamp: stamp,
    };
    this.records.set(id, after);
    return this.commit('CREATE', id, null, after, [], options);
  }

  update(id: string, changes: ContactRecord, options: WriteOptions = {}): ContactWriteEvent {
    const before = this.mustGet(id);
    const stamp = this.restTimestamp();
    const userId = options.userId ?? USER_ID;
    const after: ContactRecord = {
      ...before,
      ...changes,
      LastModifiedDate: stamp,
      LastModifiedById: userId,
      SystemModstamp: stamp,
    };
    const changed = Object.keys(after).filter((field) => after[field] !== before[field]);
    this.records.set(id, after);
    return this.commit('UPDATE', id, before, after, changed, options);
  }

  delete(id: string, options: WriteOptions = {}): ContactWriteEvent {
    const before = this.mustGet(id);
    this.records.set(id, { ...before, IsDeleted: true });
    return this.commit('DELETE', id, before, null, [], options);
  }

  undelete(id: string, options: WriteOptions = {}): ContactWriteEvent {
    const before = this.mustGet(id);
    const after = { ...before, IsDeleted: false };
    this.records.set(id, after);
    return this.commit('UNDELETE', id, before, after, [], options);
  }

  private commit(
    changeType: ContactWriteEvent['changeType'],
    recordId: string,
    before: ContactRecord | null,
    after: ContactRecord | null,
    changedFields: string[],
    options: WriteOptions,
  ): ContactWriteEvent {
    this.sequence += 1;
    const event: ContactWriteEvent = {
      changeType,
      recordId,
      before,
      after,
      changedFields,
      api: options.api ?? 'rest',
      apiVersion: this.apiVersion,
      client: options.client === undefined ? 'InitLiveSync' : options.client,
      userId: options.userId ?? USER_ID,
      transactionKey: `0002b3c1-5d3e-8e2a-1f0b-${String(this.sequence).padStart(12, '0')}`,
      sequenceNumber: 1,
      commitTimestamp: this.clockMs,
    };
    this.emitter.emit('write', [event]);
    return event;
  }

  private mustGet(id: string): ContactRecord {
    const record = this.records.get(id);
    if (!record) throw new Error(`no record ${id}`);
    return record;
  }

  /** The data side stores REST's format; the emulator must turn it into CDC's `…Z`. */
  private restTimestamp(): string {
    return new Date(this.clockMs).toISOString().replace('Z', '+0000');
  }
}

export interface Sandbox {
  org: FakeOrg;
  control: CometdControl & { close(): Promise<void> };
  instanceUrl: string;
  server: http.Server;
  /** Requests that reached the data side's own handler. */
  passedThrough: string[];
  close(): Promise<void>;
}

/** A plain http.Server standing in for the data side, with CometD attached. */
export async function startSandbox(connectTimeoutMs = 2000): Promise<Sandbox> {
  const org = new FakeOrg();
  const passedThrough: string[] = [];
  const server = http.createServer((req, res) => {
    passedThrough.push(`${req.method} ${req.url}`);
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]');
  });
  const hub = attachCometd(server, org, { connectTimeoutMs });
  const control = { ...hub.forOrg(ORG_ID), close: () => hub.close() };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    org,
    control,
    server,
    instanceUrl: `http://127.0.0.1:${port}`,
    passedThrough,
    close: async () => {
      await control.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface BayeuxMeta {
  channel: string;
  successful?: boolean;
  error?: string;
  advice?: Record<string, unknown>;
  ext?: Record<string, unknown>;
  supportedConnectionTypes?: string[];
  subscription?: string;
  clientId?: string;
  [key: string]: unknown;
}

export interface CdcMessage {
  schema: string;
  payload: { ChangeEventHeader: Record<string, unknown> } & Record<string, unknown>;
  event: { replayId: number };
}

/** The pieces of jsforce's documented streaming client, as the connector would build them. */
export interface StreamingHarness {
  client: ReturnType<Connection['streaming']['createClient']>;
  /** Every /meta/* reply the client saw, in order (watched by an incoming extension). */
  meta: BayeuxMeta[];
  /** Events delivered to the listener, in order. */
  events: CdcMessage[];
  authFailures: BayeuxMeta[];
  /** Subscribes and resolves once the server acknowledged (rejects on a failed subscribe). */
  subscribe(channel: string): Promise<void>;
  disconnect(): Promise<void>;
}

export function streamingClient(
  sandbox: Sandbox,
  accessToken: string,
  replay: { channel: string; replayId: number | null },
): StreamingHarness {
  const conn = new Connection({ instanceUrl: sandbox.instanceUrl, accessToken, version: '62.0' });
  const meta: BayeuxMeta[] = [];
  const events: CdcMessage[] = [];
  const authFailures: BayeuxMeta[] = [];
  const watcher = {
    incoming(message: BayeuxMeta, callback: (m: BayeuxMeta) => void): void {
      if (message.channel.startsWith('/meta/')) meta.push(message);
      callback(message);
    },
  };
  const client = conn.streaming.createClient([
    // Order matters: the watcher sees replies before AuthFailure swallows the fatal ones.
    watcher,
    new StreamingExtension.Replay(replay.channel, replay.replayId),
    new StreamingExtension.AuthFailure((message: BayeuxMeta) => authFailures.push(message)),
  ]);
  return {
    client,
    meta,
    events,
    authFailures,
    subscribe: async (channel) => {
      await client.subscribe(channel, (data: CdcMessage) => events.push(data));
    },
    disconnect: async () => {
      // Returns a thenable only for a connected client; a refused one has nothing to end.
      const ending = (
        client as unknown as { disconnect(): PromiseLike<void> | undefined }
      ).disconnect();
      try {
        await ending;
      } catch {
        // The server may already have forgotten the client (revoked or dropped).
      }
    },
  };
}

/** Polls until the condition holds; fails with `what` after the timeout. */
export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 8000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Posts raw Bayeux messages, for cases jsforce never produces. */
export async function postBayeux(
  sandbox: Sandbox,
  messages: unknown,
  accessToken: string | null,
  path = '/cometd/62.0',
  scheme: 'OAuth' | 'Bearer' = 'OAuth',
): Promise<{ status: number; body: BayeuxMeta[] | string }> {
  const payload = typeof messages === 'string' ? messages : JSON.stringify(messages);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${sandbox.instanceUrl}${path}`,
      {
        method: 'POST',
        agent: false,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(payload),
          ...(accessToken === null ? {} : { Authorization: `${scheme} ${accessToken}` }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: BayeuxMeta[] | string = text;
          try {
            body = JSON.parse(text) as BayeuxMeta[];
          } catch {
            // Not JSON (413, 405): keep the text.
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
