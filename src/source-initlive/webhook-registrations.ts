import { toSyncError } from '../errors';
import type { InitLiveApi } from '../infra/initlive';
import type { Logger } from '../logger';
import type { OrgDirectory } from '../orgs/org-directory';

/**
 * The InitLive webhooks this process registered, one per organization whose sources it reads
 * (all streaming ones without a source lease), removed when the sources move on and at stop.
 * Webhooks only shorten the wait for a change: the feed poll carries on without them, so a
 * registration that fails is logged and left.
 */
export class WebhookRegistrations {
  private readonly hooks = new Map<string, { api: InitLiveApi; id: string }>();
  private readonly registering = new Set<string>();
  /** Unregistered while their registration was in flight: removed as soon as it lands. */
  private readonly dropOnArrival = new Set<string>();

  constructor(
    private readonly deps: {
      orgs: OrgDirectory;
      logger: Logger;
      /** Public base URL InitLive can reach this server at; null: no webhooks. */
      baseUrl: string | null;
      secret: string;
    },
  ) {}

  async register(orgId: string): Promise<void> {
    this.dropOnArrival.delete(orgId);
    const org = this.deps.orgs.get(orgId);
    const base = this.deps.baseUrl;
    if (!base || !org?.streaming || this.hooks.has(orgId) || this.registering.has(orgId)) return;
    this.registering.add(orgId);
    try {
      const hook = await org.initlive.registerWebhook(
        `${base}/webhooks/initlive?orgId=${encodeURIComponent(orgId)}`,
        this.deps.secret,
      );
      this.hooks.set(orgId, { api: org.initlive, id: hook.id });
      this.deps.logger.info('InitLive webhook registered', { orgId, webhookId: hook.id });
      if (this.dropOnArrival.delete(orgId)) await this.unregister(orgId);
    } catch (err) {
      this.deps.logger.warn('InitLive webhook not registered; changes arrive by polling', {
        orgId,
        err: toSyncError(err),
      });
    } finally {
      this.registering.delete(orgId);
    }
  }

  /** Removes the org's webhook this process registered (its sources moved on). Best effort. */
  async unregister(orgId: string): Promise<void> {
    const hook = this.hooks.get(orgId);
    if (!hook) {
      if (this.registering.has(orgId)) this.dropOnArrival.add(orgId);
      return;
    }
    this.hooks.delete(orgId);
    try {
      await hook.api.unregisterWebhook(hook.id);
    } catch (err) {
      this.deps.logger.warn('InitLive webhook not removed', {
        orgId,
        webhookId: hook.id,
        err: toSyncError(err),
      });
    }
  }

  async removeAll(): Promise<void> {
    await Promise.allSettled(
      [...this.hooks.values()].map(({ api, id }) => api.unregisterWebhook(id)),
    );
    this.hooks.clear();
  }
}
