/** Failures the control API can arm; consumed by the REST and Bulk middleware. */
export class FaultState {
  private unavailable = 0;
  private status: 503 | 429 = 503;
  /** Extra latency added to every data API call, ms. */
  latencyMs = 0;

  /**
   * The next `count` data API calls answer 503 SERVER_UNAVAILABLE, or 429 as the edge in front
   * of an org does under a request storm (plain text, not Salesforce's JSON).
   */
  failNext(count: number, status: 503 | 429 = 503): void {
    this.unavailable = Math.max(0, Math.floor(count));
    this.status = status;
  }

  /** The status this call must fail with (consuming one), or null. */
  takeFailure(): 503 | 429 | null {
    if (this.unavailable <= 0) return null;
    this.unavailable--;
    return this.status;
  }

  pendingUnavailable(): number {
    return this.unavailable;
  }

  clear(): void {
    this.unavailable = 0;
    this.latencyMs = 0;
  }
}
