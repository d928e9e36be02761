import type { Connection } from 'jsforce';
import { packageFields } from '../../core/mapping';
import type { SyncError } from '../../errors';
import type { SalesforceApi } from '../../infra/salesforce/salesforce-api';
import { toSalesforceError } from '../../infra/salesforce/salesforce-api';
import type { Logger } from '../../logger';
import type { PipelineDeps } from '../../pipeline/deps';
import { sleep } from '../../retry';
import type { ApiReserve } from '../../core/api-reserve';
import { belowReserve, reserveCalls } from '../../core/api-reserve';

/** Why an org's writes are held. */
export type PauseReason = 'api_limit' | 'needs_reauth' | 'package_missing';

export interface OrgHoldOptions {
  /** The longest wait between two probes of a held org. */
  pauseCheckMs: number;
  /** The first wait; each next one doubles, up to pauseCheckMs. */
  firstCheckMs: number;
  apiReserve: ApiReserve;
  apiFor: (conn: Connection) => SalesforceApi;
  /** Writes held right now (queued and in the held flush), for the organization's status. */
  heldWrites: () => number;
}

/**
 * Holds one org's Salesforce writes while the org cannot take them (API budget under the
 * reserve or used up, credentials refused, package missing), and says so: a `sink.paused` event
 * when the hold begins and after every probe (with the cause, since when, and how many writes
 * wait), `sink.resumed` when it ends. Probes back off from `firstCheckMs` to `pauseCheckMs`;
 * `wake()` probes at once (Sync now, a settings save).
 *
 * Several calls finding the org held share one hold: one probe loop, one paused and one resumed
 * report, and each tries its call again afterwards. When `signal` aborts (the sink stops), the
 * hold gives up with its cause, so the batches waiting on it are redelivered, not committed.
 */
export class OrgHold {
  private current: { reason: PauseReason; since: number } | null = null;
  /** Holds ended so far: writes planned before one ended may be out of date (see OrgWriter). */
  resumes = 0;
  private holding: Promise<void> | null = null;
  private waking: (() => void) | null = null;

  constructor(
    private readonly deps: PipelineDeps,
    private readonly orgId: string,
    private readonly options: OrgHoldOptions,
    private readonly logger: Logger,
    private readonly signal: AbortSignal,
  ) {}

  /** Why the org is held right now, or null. */
  get reason(): PauseReason | null {
    return this.current?.reason ?? null;
  }

  /** Resolves once the org can take writes again; rejects with `cause` when the sink stops. */
  hold(reason: PauseReason, cause: SyncError): Promise<void> {
    this.holding ??= this.holdUntilReady(reason, cause).finally(() => {
      this.holding = null;
    });
    return this.holding;
  }

  /** Probes a held org now instead of at the next backoff. */
  wake(): void {
    this.waking?.();
  }

  private report(reason: PauseReason, cause: SyncError, since: number): void {
    this.deps.events.emit('sink.paused', {
      sink: 'salesforce',
      orgId: this.orgId,
      reason,
      untilMs: null,
      since,
      code: cause.code,
      heldWrites: this.options.heldWrites(),
    });
  }

  private async holdUntilReady(reason: PauseReason, cause: SyncError): Promise<void> {
    const since = this.deps.now();
    this.current = { reason, since };
    this.report(reason, cause, since);
    const fields = { reason, code: cause.code, detail: cause.message };
    if (reason === 'api_limit') this.logger.warn('salesforce writes paused: API budget', fields);
    else this.logger.error(`salesforce writes paused: ${cause.message}`, fields);
    try {
      for (
        let wait = this.options.firstCheckMs;
        ;
        wait = Math.min(wait * 2, this.options.pauseCheckMs)
      ) {
        await this.pause(Math.min(wait, this.options.pauseCheckMs));
        if (await this.probe(reason, cause)) break;
        this.report(reason, cause, since);
      }
    } catch (err) {
      if (this.signal.aborted) throw cause;
      throw err;
    }
    this.current = null;
    this.resumes++;
    this.deps.events.emit('sink.resumed', { sink: 'salesforce', orgId: this.orgId });
    this.logger.info('salesforce writes resumed', { reason });
  }

  /** Waits `ms`, or less when woken; rejects when the sink stops. */
  private async pause(ms: number): Promise<void> {
    const woken = new AbortController();
    this.waking = () => woken.abort();
    try {
      await sleep(ms, AbortSignal.any([this.signal, woken.signal])).catch((err: unknown) => {
        if (this.signal.aborted) throw err;
      });
    } finally {
      this.waking = null;
    }
  }

  private async probe(reason: PauseReason, cause: SyncError): Promise<boolean> {
    const org = this.deps.orgs.get(this.orgId);
    if (!org?.salesforce) return false;
    const api = this.options.apiFor(org.salesforce);
    try {
      switch (reason) {
        case 'api_limit': {
          const { dailyApiRequests: d } = await api.limits();
          this.reportUsage(api);
          return !belowReserve({ used: d.max - d.remaining, max: d.max }, this.options.apiReserve);
        }
        case 'needs_reauth':
          await api.limits();
          this.reportUsage(api);
          return true;
        case 'package_missing': {
          const mapped = new Set(org.settings.mapping.map((m) => m.salesforceField.toLowerCase()));
          const named = typeof cause.context.field === 'string' ? [cause.context.field] : [];
          const wanted = [
            ...new Set([...packageFields.filter((f) => mapped.has(f.toLowerCase())), ...named]),
          ];
          const missing = await api.missingContactFields(wanted);
          this.reportUsage(api);
          return missing.length === 0;
        }
      }
    } catch (err) {
      const e = toSalesforceError(err);
      // Credentials work again; a budget problem is the next call's to report.
      if (reason === 'needs_reauth' && e.code === 'API_LIMIT_EXCEEDED') return true;
      this.logger.debug('salesforce pause probe failed', {
        reason,
        code: e.code,
        detail: e.message,
      });
      return false;
    }
  }

  /** Reports the org's API usage as the last answer gave it (the status's budget, metrics). */
  reportUsage(api: SalesforceApi): void {
    const usage = api.apiUsage();
    if (usage) {
      this.deps.events.emit('salesforce.api-usage', {
        orgId: this.orgId,
        used: usage.used,
        max: usage.max,
        reserve: reserveCalls(this.options.apiReserve, usage.max),
      });
    }
  }
}
