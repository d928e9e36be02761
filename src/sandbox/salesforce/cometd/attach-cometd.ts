/**
 * The Salesforce sandbox's streaming side: Change Data Capture for Contact over CometD
 * (Bayeux, long-polling), built on faye's Bayeux server. Faye does the protocol plumbing
 * (client ids, held connects, subscriptions); one server extension makes it answer like
 * Salesforce (auth, channels, replay, error texts), and this module routes every event itself
 * so that replayed and live events reach each client in replay-id order.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

import type { CometdControl, CometdDeps, CometdHub, ContactWriteEvent } from '../model';
import {
  AUTHENTICATION_INVALID,
  AUTHENTICATION_REQUIRED,
  FAYE_UNKNOWN_CLIENT,
  HANDSHAKE_DENIED,
  INVALID_CONNECTION_TYPE,
  PUBLISH_NOT_ALLOWED,
  UNKNOWN_CLIENT,
  channelNotFound,
  invalidReplayId,
  replayChannelMissing,
} from './bayeux-errors';
import { buildChangeEvent, buildHeaderOnlyEvent, type ChangeEventBody } from './change-event';
import { EventLog, REPLAY_NEW, type RetainedEvent } from './event-log';
import {
  createFayeServer,
  type BayeuxMessage,
  type ExtensionCallback,
  type FayeEngine,
  type FayeNodeAdapter,
  type FayeServerExtension,
} from './faye-internals';

export interface AttachCometdOptions {
  /** Mount point; requests to `<path>/<apiVersion>` (e.g. /cometd/62.0) are served. */
  path?: string;
  /** How long a connect is held when nothing arrives. Salesforce: 110 s. */
  connectTimeoutMs?: number;
}

/** Channels that carry Contact change events. */
export const CONTACT_CHANNELS: readonly string[] = [
  '/data/ContactChangeEvent',
  '/data/ChangeEvents',
];

const DEFAULT_CONNECT_TIMEOUT_MS = 110_000;
const MAX_BODY_BYTES = 32_768;
const LONG_POLLING = 'long-polling';
/** Salesforce attributes gap and overflow events to an internal user; any fixed 005 id will do. */
const SYSTEM_USER_ID = '005000000000000AAA';
const FIRST_COMMIT_NUMBER = 11_765_432_100_000;

const META = {
  handshake: '/meta/handshake',
  connect: '/meta/connect',
  subscribe: '/meta/subscribe',
  unsubscribe: '/meta/unsubscribe',
  disconnect: '/meta/disconnect',
} as const;

interface ClientState {
  /** The token the client handshook with; revoking it ends the session. */
  accessToken: string | null;
  /** The org of that token: the session sees this org's events only. */
  orgId: string | null;
  channels: Set<string>;
  /** Events waiting for the client's next held connect, in replay-id order. */
  outbox: BayeuxMessage[];
  /** Salesforce (CometD) answers a client's first connect at once, carrying the advice. */
  hasConnected: boolean;
}

type AuthState = 'ok' | 'missing' | 'invalid';

/** One org's change event stream; allocated when the org first publishes or is subscribed to. */
interface OrgStream {
  log: EventLog;
  lastCommitNumber: number;
  lastTransactionKey: string | null;
  syntheticTransactions: number;
}

/**
 * Serves CDC over CometD on `server` at `<path>/<version>` for every org of the data side and
 * returns the hub whose per-org controls the data side and fault injection use. A session
 * belongs to the org of the token it handshook with and sees that org's events and replay ids
 * only. Call it after the data side's own `request` listener is on the
 * server (as `http.createServer(app)` does): CometD requests are taken before they reach it,
 * everything else is passed on. Call `close()` before closing the server, so held connects are
 * answered.
 *
 * Delivery contract: each subscribed client gets every event published after its subscribe
 * (plus the retained ones its replay option asks for, first), in replay-id order, once per
 * subscribed channel. Events that reach a client whose session has meanwhile died are not
 * retried; they stay retained for replay, as on Salesforce.
 */
export function attachCometd(
  server: Server,
  deps: CometdDeps,
  options: AttachCometdOptions = {},
): CometdHub {
  return new CometdEndpoint(server, deps, options);
}

class CometdEndpoint implements CometdHub {
  private readonly adapter: FayeNodeAdapter;
  private readonly engine: FayeEngine;
  private readonly streams = new Map<string, OrgStream>();
  private readonly clients = new Map<string, ClientState>();
  /** Tokens reported revoked; kept so a session ends even if authenticate() still lagged. */
  private readonly revokedTokens = new Set<string>();
  private readonly pathPattern: RegExp;
  private readonly originalListeners: ((req: IncomingMessage, res: ServerResponse) => void)[];
  private readonly detachers: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly server: Server,
    private readonly deps: CometdDeps,
    options: AttachCometdOptions,
  ) {
    const path = (options.path ?? '/cometd').replace(/\/+$/, '');
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.pathPattern = new RegExp(`^${escapeRegExp(path)}/\\d+\\.\\d+/?$`);

    ({ adapter: this.adapter, engine: this.engine } = createFayeServer({
      mount: path,
      timeoutSeconds: connectTimeoutMs / 1000,
    }));
    this.adapter.addExtension(this.extension());

    const onHandshake = (clientId: string): void => {
      this.clients.set(clientId, {
        accessToken: null,
        orgId: null,
        channels: new Set(),
        outbox: [],
        hasConnected: false,
      });
    };
    const onDisconnect = (clientId: string): void => {
      this.clients.delete(clientId);
    };
    // Deferred so faye has registered the connect's callback before messages are handed over.
    const onConnectionOpen = (clientId: string): void => queueMicrotask(() => this.flush(clientId));
    this.engine.bind('handshake', onHandshake);
    this.engine.bind('disconnect', onDisconnect);
    this.engine.bind('connection:open', onConnectionOpen);
    this.detachers.push(
      () => this.engine.unbind('handshake', onHandshake),
      () => this.engine.unbind('disconnect', onDisconnect),
      () => this.engine.unbind('connection:open', onConnectionOpen),
      deps.onWrite((orgId, events) => this.onWrite(orgId, events)),
      deps.onTokenRevoked((token) => this.onTokenRevoked(token)),
    );

    // Same takeover faye's own attach() does, but matching only versioned CometD paths and
    // enforcing Salesforce's request size limit first.
    this.originalListeners = server.listeners('request') as typeof this.originalListeners;
    server.removeAllListeners('request');
    server.on('request', this.onRequest);
  }

  // --- CometdHub ------------------------------------------------------------------------------

  forOrg(orgId: string): CometdControl {
    const clientsOf = (): string[] =>
      [...this.clients].filter(([, state]) => state.orgId === orgId).map(([id]) => id);
    return {
      dropAllClients: () => {
        for (const clientId of clientsOf()) this.engine.destroyClient(clientId);
      },
      emitGap: (changeType, recordIds) =>
        this.publish(orgId, this.headerOnlyEvent(orgId, changeType, recordIds)),
      emitOverflow: () => this.publish(orgId, this.headerOnlyEvent(orgId, 'GAP_OVERFLOW', [])),
      purgeRetention: () => this.streams.get(orgId)?.log.purge(),
      latestReplayId: () => this.streams.get(orgId)?.log.latestReplayId() ?? 0,
      clientCount: () => clientsOf().length,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const detach of this.detachers) detach();
    this.server.removeListener('request', this.onRequest);
    for (const listener of this.originalListeners) this.server.on('request', listener);
    // Answers every held connect, then forgets all clients. The answers are written from
    // promise callbacks; one macrotask later they are out, so the server can close cleanly.
    this.adapter.close();
    this.clients.clear();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  // --- HTTP ----------------------------------------------------------------------------------

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const pathname = (req.url ?? '').split('?')[0] ?? '';
    if (!this.pathPattern.test(pathname)) {
      for (const listener of this.originalListeners) listener.call(this.server, req, res);
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { Allow: 'POST', 'Content-Type': 'text/plain' });
      res.end('Method Not Allowed');
      req.resume();
      return;
    }
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > MAX_BODY_BYTES) {
      res.writeHead(413, { 'Content-Type': 'text/plain', Connection: 'close' });
      res.end('Request Entity Too Large');
      req.resume();
      return;
    }
    this.adapter.handle(req, res);
  };

  // --- Bayeux extension ----------------------------------------------------------------------

  private extension(): FayeServerExtension {
    return {
      incoming: (message, request, callback) => this.incoming(message, request, callback),
      outgoing: (message, request, callback) => this.outgoing(message, request, callback),
    };
  }

  /**
   * Runs before faye handles a client message. Rejections are expressed by setting
   * `message.error`, which faye copies into its reply and which stops it acting on the message.
   */
  private incoming(
    message: BayeuxMessage,
    request: IncomingMessage | null,
    callback: ExtensionCallback,
  ): void {
    const channel = message.channel ?? '';
    // Ending a session needs no valid token; the client may be leaving because it was revoked.
    if (channel === META.disconnect) return callback(message);

    if (this.authState(request, message.clientId) !== 'ok') {
      message.error = channel === META.handshake ? HANDSHAKE_DENIED : AUTHENTICATION_INVALID;
      return callback(message);
    }
    if (!channel.startsWith('/meta/')) {
      message.error = PUBLISH_NOT_ALLOWED;
      return callback(message);
    }
    switch (channel) {
      case META.handshake: {
        const types = message.supportedConnectionTypes;
        if (Array.isArray(types) && !types.includes(LONG_POLLING))
          message.error = INVALID_CONNECTION_TYPE;
        break;
      }
      case META.connect:
        this.beforeConnect(message);
        break;
      case META.subscribe:
        this.subscribe(message);
        break;
      case META.unsubscribe:
        this.unsubscribe(message);
        break;
    }
    callback(message);
  }

  private beforeConnect(message: BayeuxMessage): void {
    if (message.connectionType !== undefined && message.connectionType !== LONG_POLLING) {
      message.error = INVALID_CONNECTION_TYPE;
      return;
    }
    const state = message.clientId === undefined ? undefined : this.clients.get(message.clientId);
    if (state && !state.hasConnected) {
      state.hasConnected = true;
      // faye holds a connect for advice.timeout; zero answers this first one straight away.
      message.advice = { ...message.advice, timeout: 0 };
    }
  }

  /**
   * Validates channels and replay options and, when all are fine, subscribes the client and
   * queues the replayed events ahead of anything published later. All of it happens in one
   * synchronous step, so no live event can slip between the replayed ones and the subscription.
   */
  private subscribe(message: BayeuxMessage): void {
    const state = message.clientId === undefined ? undefined : this.clients.get(message.clientId);
    if (!state || message.subscription === undefined) return; // faye answers these itself
    const channels = ([] as string[]).concat(message.subscription);

    const plans: { channel: string; events: RetainedEvent[] }[] = [];
    for (const channel of channels) {
      if (!CONTACT_CHANNELS.includes(channel)) {
        message.error = channelNotFound(channel);
        return;
      }
      const plan = this.replayPlan(state.orgId ?? '', channel, message.ext?.replay);
      if ('error' in plan) {
        message.error = plan.error;
        return;
      }
      plans.push({ channel, events: plan.events });
    }
    for (const { channel, events } of plans) {
      state.channels.add(channel);
      for (const event of events) state.outbox.push(eventMessage(channel, event));
    }
    if (message.clientId !== undefined) this.flush(message.clientId);
  }

  private replayPlan(
    orgId: string,
    channel: string,
    replay: unknown,
  ): { events: RetainedEvent[] } | { error: string } {
    // Without a replay map (or with a non-map value) Salesforce delivers new events only.
    if (
      replay === undefined ||
      replay === null ||
      typeof replay !== 'object' ||
      Array.isArray(replay)
    ) {
      return { events: [] };
    }
    const map = replay as Record<string, unknown>;
    if (!Object.hasOwn(map, channel)) return { error: replayChannelMissing(channel, map) };
    const requested = map[channel];
    const from =
      typeof requested === 'number'
        ? requested
        : typeof requested === 'string' && /^-?\d+$/.test(requested)
          ? Number(requested)
          : requested === null
            ? REPLAY_NEW
            : Number.NaN;
    const resolution = Number.isSafeInteger(from)
      ? this.stream(orgId).log.resolve(from)
      : { ok: false as const };
    return resolution.ok ? { events: resolution.events } : { error: invalidReplayId(requested) };
  }

  private unsubscribe(message: BayeuxMessage): void {
    const state = message.clientId === undefined ? undefined : this.clients.get(message.clientId);
    if (!state || message.subscription === undefined) return;
    for (const channel of ([] as string[]).concat(message.subscription)) {
      state.channels.delete(channel);
      state.outbox = state.outbox.filter((m) => m.channel !== channel);
    }
  }

  /** Runs on every reply and delivered event before it is written to the client. */
  private outgoing(
    message: BayeuxMessage,
    request: IncomingMessage | null,
    callback: ExtensionCallback,
  ): void {
    const channel = message.channel ?? '';
    if (channel === META.disconnect) return callback(rewriteUnknownClient(message));

    // Checked again on the way out: a connect held while its token was revoked ends here.
    const auth = this.authState(request, message.clientId);
    if (auth !== 'ok') {
      if (channel === META.handshake) return callback(handshakeDenied(message, auth));
      if (channel.startsWith('/meta/')) return callback(authenticationInvalid(message));
      // An event answering a dead session's connect is dropped; it stays retained for replay.
      return callback(null);
    }

    if (channel === META.handshake && message.successful === true) {
      const state = message.clientId === undefined ? undefined : this.clients.get(message.clientId);
      if (state) {
        state.accessToken = bearerToken(request);
        state.orgId = this.orgOf(state.accessToken);
      }
      message.supportedConnectionTypes = [LONG_POLLING];
      message.minimumVersion = '1.0';
      message.ext = { replay: true, 'payload.format': true };
      // Salesforce sends advice on connect replies only.
      delete message.advice;
    }
    callback(rewriteUnknownClient(message));
  }

  /** A client's later messages must carry a token of the org it handshook with. */
  private authState(request: IncomingMessage | null, clientId: string | undefined): AuthState {
    const token = bearerToken(request);
    if (token === null) return 'missing';
    if (this.revokedTokens.has(token)) return 'invalid';
    const who = this.deps.authenticate(token);
    if (who === null) return 'invalid';
    const sessionOrg = clientId === undefined ? null : (this.clients.get(clientId)?.orgId ?? null);
    return sessionOrg === null || sessionOrg === who.orgId ? 'ok' : 'invalid';
  }

  private orgOf(token: string | null): string | null {
    return token === null ? null : (this.deps.authenticate(token)?.orgId ?? null);
  }

  private stream(orgId: string): OrgStream {
    let stream = this.streams.get(orgId);
    if (!stream) {
      stream = {
        log: new EventLog({ now: () => this.deps.now(), retentionMs: this.deps.retentionMs }),
        lastCommitNumber: FIRST_COMMIT_NUMBER,
        lastTransactionKey: null,
        syntheticTransactions: 0,
      };
      this.streams.set(orgId, stream);
    }
    return stream;
  }

  // --- Events --------------------------------------------------------------------------------

  private onWrite(orgId: string, events: ContactWriteEvent[]): void {
    // Contact not selected for Change Data Capture: Salesforce publishes nothing for it.
    if (this.deps.contactSelected && !this.deps.contactSelected(orgId)) return;
    for (const event of events)
      this.publish(
        orgId,
        buildChangeEvent(event, this.commitNumberFor(orgId, event.transactionKey)),
      );
  }

  /**
   * Ends every session opened with the token: faye forgets the client and answers its held
   * connect, which the outgoing check turns into `401::Authentication invalid`.
   */
  private onTokenRevoked(token: string): void {
    this.revokedTokens.add(token);
    const ids = [...this.clients]
      .filter(([, state]) => state.accessToken === token)
      .map(([id]) => id);
    for (const clientId of ids) this.engine.destroyClient(clientId);
  }

  private publish(orgId: string, body: ChangeEventBody): void {
    const event = this.stream(orgId).log.append(body);
    for (const [clientId, state] of this.clients) {
      if (state.orgId !== orgId || state.channels.size === 0) continue;
      for (const channel of CONTACT_CHANNELS) {
        if (state.channels.has(channel)) state.outbox.push(eventMessage(channel, event));
      }
      this.flush(clientId);
    }
  }

  /** Hands the client's queued events to its held connect, if it has one; else they wait. */
  private flush(clientId: string): void {
    const state = this.clients.get(clientId);
    if (!state || state.outbox.length === 0 || !this.engine.hasConnection(clientId)) return;
    const batch = state.outbox;
    state.outbox = [];
    this.engine.deliver(clientId, batch);
  }

  /** Events of one transaction share a commit number; each new transaction gets a higher one. */
  private commitNumberFor(orgId: string, transactionKey: string): number {
    const stream = this.stream(orgId);
    if (transactionKey !== stream.lastTransactionKey) {
      stream.lastTransactionKey = transactionKey;
      stream.lastCommitNumber += 1 + (stream.lastCommitNumber % 13);
    }
    return stream.lastCommitNumber;
  }

  private headerOnlyEvent(
    orgId: string,
    changeType: 'GAP_CREATE' | 'GAP_UPDATE' | 'GAP_DELETE' | 'GAP_UNDELETE' | 'GAP_OVERFLOW',
    recordIds: string[],
  ): ChangeEventBody {
    const stream = this.stream(orgId);
    stream.syntheticTransactions += 1;
    const transactionKey = uuidLike(`sandbox-gap-${orgId}-${stream.syntheticTransactions}`);
    return buildHeaderOnlyEvent({
      changeType,
      recordIds,
      transactionKey,
      commitTimestamp: this.deps.now(),
      commitNumber: this.commitNumberFor(orgId, transactionKey),
      commitUser: SYSTEM_USER_ID,
    });
  }
}

function eventMessage(channel: string, event: RetainedEvent): BayeuxMessage {
  return { channel, data: { ...event.body, event: { replayId: event.replayId } } };
}

/** jsforce sends `OAuth <token>`; `Bearer <token>` is accepted as well. */
function bearerToken(request: IncomingMessage | null): string | null {
  const header = request?.headers.authorization;
  const match = /^(?:OAuth|Bearer)\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] ?? null;
}

function handshakeDenied(reply: BayeuxMessage, auth: Exclude<AuthState, 'ok'>): BayeuxMessage {
  return {
    ext: {
      sfdc: {
        failureReason: auth === 'missing' ? AUTHENTICATION_REQUIRED : AUTHENTICATION_INVALID,
      },
    },
    advice: { reconnect: 'none' },
    channel: META.handshake,
    // Kept (unlike the documented sample) so the client can match the reply to its request.
    ...(reply.id === undefined ? {} : { id: reply.id }),
    error: HANDSHAKE_DENIED,
    successful: false,
  };
}

function authenticationInvalid(reply: BayeuxMessage): BayeuxMessage {
  const { clientId: _clientId, ...rest } = reply;
  return {
    ...rest,
    error: AUTHENTICATION_INVALID,
    successful: false,
    advice: { reconnect: 'none' },
  };
}

/** faye says `401:<clientId>:Unknown client`; Salesforce says this, and asks for a handshake. */
function rewriteUnknownClient(reply: BayeuxMessage): BayeuxMessage {
  if (typeof reply.error !== 'string' || !FAYE_UNKNOWN_CLIENT.test(reply.error)) return reply;
  return { ...reply, error: UNKNOWN_CLIENT, advice: { reconnect: 'handshake', interval: 0 } };
}

function uuidLike(seed: string): string {
  const hex = createHash('sha1').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
