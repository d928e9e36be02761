import type { Connection } from 'jsforce';

/**
 * One CometD subscription to a CDC channel through jsforce's streaming client (a faye Client),
 * with our own extension instead of jsforce's `StreamingExtension.Replay`: that one writes its
 * map into every subscribe and fails re-subscribes silently (jsforce #1700, #1709, #1061).
 *
 * The extension
 * - puts `ext.replay = {<channel>: hooks.replayFrom()}` on every /meta/subscribe, asked at
 *   send time, so faye's own re-subscribe after `403::Unknown client` resumes from the
 *   position stored at that moment;
 * - reports failed handshakes, subscribes and connects, which faye would otherwise swallow;
 * - after `close()` drops every message in both directions (except the disconnect), so a
 *   client being replaced can never hand over another event.
 */
export interface CdcClientHooks {
  /** Replay id to subscribe from: the last committed one, or -1 for new events only. */
  replayFrom(): number;
  onEvent(data: unknown): void;
  onSubscribed(): void;
  /** The subscribe failed, e.g. `400::The replayId {N} you provided was invalid...`. */
  onSubscribeFailed(error: string): void;
  /** Handshake refused. `fatal`: faye will not try again by itself (advice reconnect none). */
  onHandshakeFailed(error: string, failureReason: string | null, fatal: boolean): void;
  /** A /meta/connect failed; `403::Unknown client` is re-handshaken by faye itself. */
  onConnectFailed(error: string, fatal: boolean): void;
  /** HTTP transport down (faye retries by itself) or back up. */
  onTransport(up: boolean): void;
}

interface BayeuxMessage {
  channel?: string;
  successful?: boolean;
  error?: string;
  subscription?: string | string[];
  advice?: { reconnect?: string };
  ext?: Record<string, unknown>;
}

type Callback = (message: BayeuxMessage | null) => void;

/**
 * What we use of faye 1.4's Client beyond jsforce's typings. `_dispatcher` and `_state` are
 * internals (jsforce itself reaches into `_dispatcher`); they let `close()` stop a client's
 * timers and held request at once instead of leaving a long-poll open for up to 110 s.
 */
interface FayeClient {
  subscribe(channel: string, listener: (data: unknown) => void): PromiseLike<void>;
  disconnect(): PromiseLike<void> | undefined;
  bind(event: 'transport:down' | 'transport:up', listener: () => void): void;
  _state?: number;
  _dispatcher?: {
    _envelopes?: Map<
      string,
      { timer?: NodeJS.Timeout | null; request?: PromiseLike<{ destroy?: () => void }> | null }
    >;
    close(): void;
  };
}

const FAYE_CONNECTED = 3;
const DISCONNECT_WAIT_MS = 1_000;

export class CdcClient {
  private closed = false;
  private readonly client: FayeClient;

  constructor(
    conn: Connection,
    private readonly channel: string,
    private readonly hooks: CdcClientHooks,
  ) {
    const extension = {
      outgoing: (message: BayeuxMessage, callback: Callback): void =>
        this.outgoing(message, callback),
      incoming: (message: BayeuxMessage, callback: Callback): void =>
        this.incoming(message, callback),
    };
    this.client = conn.streaming.createClient([extension]) as unknown as FayeClient;
    this.client.bind('transport:down', () => {
      if (!this.closed) hooks.onTransport(false);
    });
    this.client.bind('transport:up', () => {
      if (!this.closed) hooks.onTransport(true);
    });
  }

  /** Handshakes and subscribes; outcomes arrive through the hooks. */
  start(): void {
    const subscription = this.client.subscribe(this.channel, (data) => {
      if (!this.closed) this.hooks.onEvent(data);
    });
    // Failures are reported by the incoming extension; this only keeps the rejection handled.
    subscription.then(
      () => undefined,
      () => undefined,
    );
  }

  /**
   * Disconnects (politely when the session is up), then silences the client for good and
   * cancels its pending requests and timers. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.client._state === FAYE_CONNECTED) {
      const bye = this.client.disconnect();
      if (bye) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => bye.then(resolve, () => resolve())),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, DISCONNECT_WAIT_MS))),
        ]);
        clearTimeout(timer);
      }
    }
    const dispatcher = this.client._dispatcher;
    if (!dispatcher) return;
    for (const envelope of dispatcher._envelopes?.values() ?? []) {
      if (envelope.timer) clearTimeout(envelope.timer);
      envelope.timer = null;
      const request = envelope.request;
      envelope.request = null;
      request?.then(
        (req) => req?.destroy?.(),
        () => undefined,
      );
    }
    dispatcher._envelopes?.clear();
    dispatcher.close();
  }

  private outgoing(message: BayeuxMessage, callback: Callback): void {
    if (this.closed && message.channel !== '/meta/disconnect') return callback(null);
    if (message.channel === '/meta/subscribe' && message.subscription === this.channel) {
      message.ext = { ...message.ext, replay: { [this.channel]: this.hooks.replayFrom() } };
    }
    callback(message);
  }

  private incoming(message: BayeuxMessage, callback: Callback): void {
    if (this.closed) return callback(message.channel === '/meta/disconnect' ? message : null);
    callback(message);
    // Reported after faye has handled the message, so a hook may close this client.
    const report = this.classify(message);
    if (report) queueMicrotask(report);
  }

  private classify(message: BayeuxMessage): (() => void) | null {
    const error = message.error ?? 'unknown error';
    const fatal = message.advice?.reconnect === 'none';
    switch (message.channel) {
      case '/meta/handshake': {
        if (message.successful !== false) return null;
        const sfdc = message.ext?.sfdc as { failureReason?: unknown } | undefined;
        const reason = typeof sfdc?.failureReason === 'string' ? sfdc.failureReason : null;
        return () => this.hooks.onHandshakeFailed(error, reason, fatal);
      }
      case '/meta/subscribe': {
        const subscriptions = [message.subscription ?? []].flat();
        if (subscriptions.length > 0 && !subscriptions.includes(this.channel)) return null;
        return message.successful === true
          ? () => this.hooks.onSubscribed()
          : () => this.hooks.onSubscribeFailed(error);
      }
      case '/meta/connect':
        return message.successful === false ? () => this.hooks.onConnectFailed(error, fatal) : null;
      default:
        return null;
    }
  }
}
