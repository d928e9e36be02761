import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifyWebhookSignature, webhookEventSchema } from '../infra/initlive';
import type { WebhookEvent } from '../infra/initlive';

/** What a webhook request gets back; the HTTP layer sends `status` and `body` as JSON. */
export interface WebhookResponse {
  status: number;
  body: { ok: boolean; error?: string; reason?: string };
}

export interface WebhookStats {
  /** Verified nudges that woke (or were coalesced into) a reader. */
  accepted: number;
  /** Verified nudges for a position already read, or an org without a running reader. */
  ignored: number;
  /**
   * Verified nudges for an organization whose source lease another process holds (several
   * processes behind one load balancer): answered 202, and that process's own poll reads
   * the change.
   */
  standby: number;
  /** Bad, missing, stale or forged signatures (answered 401). */
  rejected: number;
  rejectedByReason: Record<string, number>;
  /** Signed but unusable bodies: not JSON, not a staff.changed event, wrong org (400). */
  invalid: number;
}

export interface WebhookReceiverOptions {
  secret: string;
  /** Allowed distance between the signature's `t` and our clock; default 5 minutes. */
  toleranceMs?: number;
  /**
   * Wall clock for the signature check. InitLive stamps `t` with real time, so this is not the
   * pipeline's (possibly simulated) clock. Default Date.now.
   */
  now?: () => number;
}

/**
 * What became of a verified nudge: `woken` (the reader reads early), `already_read` (`seq` is
 * on the topic already), `not_read` (no reader for that org here), `standby` (another process
 * holds the org's source lease and reads it).
 */
export type WakeOutcome = 'woken' | 'already_read' | 'not_read' | 'standby';

/** What the receiver does with a verified nudge: wake the org's reader. */
export type WakeReader = (orgId: string, seq: number) => WakeOutcome;

const MAX_BODY_BYTES = 64 * 1024;

/**
 * Checks InitLive webhook requests and turns good ones into reader wake-ups. A webhook is
 * only a nudge (the feed is the source of truth), so duplicates and reordering are harmless:
 * at worst a reader reads the feed once more. Every rejection is counted in `stats()`.
 */
export class WebhookReceiver {
  private readonly counters: WebhookStats = {
    accepted: 0,
    ignored: 0,
    standby: 0,
    rejected: 0,
    rejectedByReason: {},
    invalid: 0,
  };

  constructor(
    private readonly options: WebhookReceiverOptions,
    private readonly wake: WakeReader,
  ) {}

  /**
   * Handles one request. `rawBody` must be the bytes as received (a re-serialised body no
   * longer matches its MAC). `orgId`, when the route names one, must match the body's.
   * 401 for a bad signature, 400 for a signed but unusable body, 202 otherwise.
   */
  handle(rawBody: Buffer, signatureHeader: string | undefined, orgId?: string): WebhookResponse {
    const now = (this.options.now ?? Date.now)();
    const check = verifyWebhookSignature(
      rawBody,
      signatureHeader,
      this.options.secret,
      now,
      this.options.toleranceMs,
    );
    if (!check.ok) {
      this.counters.rejected++;
      this.counters.rejectedByReason[check.reason] =
        (this.counters.rejectedByReason[check.reason] ?? 0) + 1;
      return { status: 401, body: { ok: false, error: 'invalid_signature', reason: check.reason } };
    }
    let event: WebhookEvent;
    try {
      const parsed = webhookEventSchema.safeParse(JSON.parse(rawBody.toString('utf8')));
      if (!parsed.success) return this.invalid('not a staff.changed event');
      event = parsed.data;
    } catch {
      return this.invalid('body is not JSON');
    }
    if (orgId !== undefined && orgId !== event.orgId) return this.invalid('organization mismatch');
    // Every verified nudge is a success for InitLive, wherever it landed: the feed, not the
    // nudge, carries the change, so a 2xx never loses one and an error would only make
    // InitLive retry a request that can do no more.
    const outcome = this.wake(event.orgId, event.seq);
    if (outcome === 'woken') this.counters.accepted++;
    else if (outcome === 'standby') this.counters.standby++;
    else this.counters.ignored++;
    return { status: 202, body: { ok: true } };
  }

  /**
   * A plain Node request handler (`http.createServer(handler)`, or mounted on express before
   * any body parser, since it reads the raw body itself). Accepts POST only; bodies over 64 KB
   * get 413. An `orgId` query parameter, when present, must match the event's organization.
   */
  httpHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      const send = (response: WebhookResponse): void => {
        res.statusCode = response.status;
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify(response.body));
      };
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        send({ status: 405, body: { ok: false, error: 'method_not_allowed' } });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) tooLarge = true;
        else chunks.push(chunk);
      });
      req.on('error', () => send({ status: 400, body: { ok: false, error: 'aborted' } }));
      req.on('end', () => {
        if (tooLarge) {
          send({ status: 413, body: { ok: false, error: 'body_too_large' } });
          return;
        }
        const header = req.headers['x-initlive-signature'];
        const orgId = new URL(req.url ?? '/', 'http://localhost').searchParams.get('orgId');
        send(
          this.handle(
            Buffer.concat(chunks),
            Array.isArray(header) ? header.join(',') : header,
            orgId ?? undefined,
          ),
        );
      });
    };
  }

  stats(): WebhookStats {
    return { ...this.counters, rejectedByReason: { ...this.counters.rejectedByReason } };
  }

  private invalid(error: string): WebhookResponse {
    this.counters.invalid++;
    return { status: 400, body: { ok: false, error } };
  }
}
