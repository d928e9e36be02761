/** Failures the control API can arm; consumed by the REST and Bulk middleware. */
export class FaultState {
  private unavailable = 0;
  /** Extra latency added to every data API call, ms. */
  latencyMs = 0;

  /** The next `count` data API calls answer 503 SERVER_UNAVAILABLE. */
  failNext(count: number): void {
    this.unavailable = Math.max(0, Math.floor(count));
  }

  /** True (and consumes one) when this call must fail with 503. */
  takeUnavailable(): boolean {
    if (this.unavailable <= 0) return false;
    this.unavailable--;
    return true;
  }

  pendingUnavailable(): number {
    return this.unavailable;
  }

  clear(): void {
    this.unavailable = 0;
    this.latencyMs = 0;
  }
}
