import type { Connection } from 'jsforce';
import type { ReconcileSettings } from '../core/reconcile';
import type { InitLiveApi } from '../infra/initlive';

/**
 * What the pipeline knows of one connected organization: its sync settings and live clients
 * for both systems. One deployment serves many organizations; every component looks its
 * organization up here by the orgId the records carry, never from global configuration.
 *
 * The control plane (connect, disconnect, settings) changes entries; the pipeline only reads.
 */
export interface OrgRuntime {
  orgId: string;
  settings: ReconcileSettings;
  /** Whether streaming sources should run for this org. */
  streaming: boolean;
  /** jsforce connection with the org's current tokens; null while disconnected. */
  salesforce: Connection | null;
  initlive: InitLiveApi;
  /** Change origin our InitLive writes carry (X-Change-Origin). */
  initliveOrigin: string;
  /** Sforce-Call-Options client tag our Salesforce writes carry. */
  salesforceClientTag: string;
}

export interface OrgDirectory {
  get(orgId: string): OrgRuntime | undefined;
  list(): OrgRuntime[];
  /**
   * `get`, or for an organization not known here a look at the shared store first: a record
   * may arrive from another process before this one's poll has seen the organization connect.
   */
  resolve(orgId: string): Promise<OrgRuntime | undefined>;
}

/** A fixed set of organizations: the embedded mode, tests and benchmarks. */
export class StaticOrgDirectory implements OrgDirectory {
  private readonly orgs = new Map<string, OrgRuntime>();

  constructor(orgs: OrgRuntime[] = []) {
    for (const o of orgs) this.orgs.set(o.orgId, o);
  }

  set(org: OrgRuntime): void {
    this.orgs.set(org.orgId, org);
  }

  get(orgId: string): OrgRuntime | undefined {
    return this.orgs.get(orgId);
  }

  list(): OrgRuntime[] {
    return [...this.orgs.values()];
  }

  resolve(orgId: string): Promise<OrgRuntime | undefined> {
    return Promise.resolve(this.get(orgId));
  }
}
