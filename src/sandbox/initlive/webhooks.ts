import { randomUUID } from 'node:crypto';
import { WEBHOOK_SIGNATURE_HEADER, signWebhookBody } from '../../infra/initlive/webhook-signature';
import type { Logger } from '../../logger';
import type { FeedEntry, WebhookSubscription } from './model';

const ATTEMPTS_KEPT = 10_000;

/**
 * Webhook delivery as InitLive would do it: one signed POST per change per subscription,
 * at least once, retried with exponential backoff while the receiver answers non-2xx, given up
 * after `maxAttempts` (the real service keeps trying for 24 h; the sandbox is bounded so tests
 * and demos end). On request it misbehaves on purpose: every event sent twice (`duplicate`),
 * or events held for `reorderWindowMs` and sent newest first (`reorder`).
 */

export interface WebhookDeliveryOptions {
  /** Attempts per event, the first included. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Per attempt; a receiver slower than this counts as a failure. */
  timeoutMs: number;
  /** How long reorder mode holds events before sending them newest first. */
  reorderWindowMs: number;
  /**
   * Clock for the signature's `t` (epoch ms). Real time by default, even when the sandbox
   * clock is advanced: `t` says when the request was sent, and receivers compare it with theirs.
   */
  signingClock: () => number;
}

export const defaultWebhookDeliveryOptions: WebhookDeliveryOptions = {
  maxAttempts: 8,
  initialDelayMs: 500,
  maxDelayMs: 60_000,
  timeoutMs: 5_000,
  reorderWindowMs: 50,
  signingClock: () => Date.now(),
};

export interface WebhookMode {
  duplicate: boolean;
  reorder: boolean;
}

export interface WebhookEventBody {
  id: string;
  type: 'staff.changed';
  orgId: string;
  seq: number;
  occurredAt: string;
}

export interface DeliveryAttempt {
  webhookId: string;
  url: string;
  eventId: string;
  seq: number;
  attempt: number;
  /** HTTP status, or null when the request failed (refused, timed out). */
  status: number | null;
  ok: boolean;
  error?: string;
}

export interface WebhookCounters {
  attempts: number;
  delivered: number;
  /** Events given up after maxAttempts. */
  failed: number;
}

interface Buffered {
  hook: WebhookSubscription;
  events: WebhookEventBody[];
  timer: NodeJS.Timeout;
}

export class WebhookDispatcher {
  readonly mode: WebhookMode = { duplicate: false, reorder: false };
  readonly counters: WebhookCounters = { attempts: 0, delivered: 0, failed: 0 };
  private readonly log: DeliveryAttempt[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly controllers = new Set<AbortController>();
  private readonly buffers = new Map<string, Buffered>();
  private readonly idleWaiters: Array<() => void> = [];
  private pending = 0;
  private closed = false;

  constructor(
    private readonly options: WebhookDeliveryOptions,
    /** Whether a subscription of the org still exists; an unregistered hook gets no more attempts. */
    private readonly isRegistered: (orgId: string, hook: WebhookSubscription) => boolean,
    private readonly logger: Logger,
  ) {}

  /** Queues a nudge for `change` to every hook in `hooks`. */
  dispatch(orgId: string, change: FeedEntry, hooks: readonly WebhookSubscription[]): void {
    if (this.closed) return;
    for (const hook of hooks) {
      const event: WebhookEventBody = {
        id: `evt_${randomUUID().replace(/-/g, '')}`,
        type: 'staff.changed',
        orgId,
        seq: change.seq,
        occurredAt: change.occurredAt,
      };
      if (this.mode.reorder) this.hold(hook, event);
      else void this.send(hook, event);
    }
  }

  /** The attempts so far (the newest 10,000 to 20,000), oldest first. */
  attempts(): DeliveryAttempt[] {
    return this.log.map((a) => ({ ...a }));
  }

  /** Resolves once nothing is held, in flight or waiting for a retry. */
  idle(): Promise<void> {
    if (this.pending === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const b of this.buffers.values()) clearTimeout(b.timer);
    for (const c of this.controllers) c.abort();
    this.timers.clear();
    this.buffers.clear();
    this.pending = 0;
    this.settle();
  }

  private hold(hook: WebhookSubscription, event: WebhookEventBody): void {
    let buffer = this.buffers.get(hook.id);
    if (!buffer) {
      this.pending++;
      const timer = setTimeout(() => {
        this.buffers.delete(hook.id);
        const held = [...(buffer as Buffered).events].reverse();
        // Newest first, one after the other, so the receiver sees exactly this order.
        void (async () => {
          for (const e of held) await this.send(hook, e);
          this.done();
        })();
      }, this.options.reorderWindowMs);
      buffer = { hook, events: [], timer };
      this.buffers.set(hook.id, buffer);
    }
    buffer.events.push(event);
  }

  /** Resolves after the first attempt of each copy (retries continue on timers). */
  private async send(hook: WebhookSubscription, event: WebhookEventBody): Promise<void> {
    const copies = this.mode.duplicate ? 2 : 1;
    // Counted up front so idle() cannot resolve between the two copies.
    this.pending += copies;
    for (let i = 0; i < copies; i++) await this.attempt(hook, event, 1);
  }

  private async attempt(
    hook: WebhookSubscription,
    event: WebhookEventBody,
    attempt: number,
  ): Promise<void> {
    if (this.closed) return;
    if (!this.isRegistered(event.orgId, hook)) return this.done();
    const body = JSON.stringify(event);
    const signature = signWebhookBody(
      body,
      hook.secret,
      Math.floor(this.options.signingClock() / 1000),
    );
    const controller = new AbortController();
    this.controllers.add(controller);
    const timeout = setTimeout(() => controller.abort(), this.options.timeoutMs);
    let status: number | null = null;
    let error: string | undefined;
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', [WEBHOOK_SIGNATURE_HEADER]: signature },
        body,
        signal: controller.signal,
      });
      status = res.status;
      await res.arrayBuffer();
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    } finally {
      clearTimeout(timeout);
      this.controllers.delete(controller);
    }
    if (this.closed) return;
    const ok = status !== null && status >= 200 && status < 300;
    this.counters.attempts++;
    // The newest attempts only: a long run must not keep every one.
    if (this.log.length >= 2 * ATTEMPTS_KEPT) this.log.splice(0, this.log.length - ATTEMPTS_KEPT);
    this.log.push({
      webhookId: hook.id,
      url: hook.url,
      eventId: event.id,
      seq: event.seq,
      attempt,
      status,
      ok,
      error,
    });
    if (ok) {
      this.counters.delivered++;
      return this.done();
    }
    if (attempt >= this.options.maxAttempts) {
      this.counters.failed++;
      this.logger.warn('initlive sandbox webhook given up', {
        url: hook.url,
        seq: event.seq,
        attempt,
        status,
      });
      return this.done();
    }
    const delayMs = Math.min(
      this.options.maxDelayMs,
      this.options.initialDelayMs * 2 ** (attempt - 1),
    );
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.attempt(hook, event, attempt + 1);
    }, delayMs);
    this.timers.add(timer);
  }

  private done(): void {
    this.pending = Math.max(0, this.pending - 1);
    if (this.pending === 0) this.settle();
  }

  private settle(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
