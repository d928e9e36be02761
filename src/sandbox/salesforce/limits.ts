const HOUR_MS = 3_600_000;

/**
 * The org's daily API allocation, counted over a rolling 24 hours (hour buckets), plus
 * per-endpoint counts for tests and the demo.
 */
export class ApiUsage {
  private buckets = new Map<number, number>();
  private endpoints = new Map<string, number>();
  private bulkQueryJobs = new Map<number, number>();
  max: number;

  constructor(
    max: number,
    private readonly now: () => number,
  ) {
    this.max = max;
  }

  /** Calls counted in the last 24 hours. */
  used(): number {
    return this.sum(this.buckets);
  }

  remaining(): number {
    return Math.max(0, this.max - this.used());
  }

  exhausted(): boolean {
    return this.used() >= this.max;
  }

  /** Counts one call (or `n`). */
  count(n = 1): void {
    this.add(this.buckets, n);
  }

  countEndpoint(label: string): void {
    this.endpoints.set(label, (this.endpoints.get(label) ?? 0) + 1);
  }

  countBulkQueryJob(): void {
    this.add(this.bulkQueryJobs, 1);
  }

  bulkQueryJobsUsed(): number {
    return this.sum(this.bulkQueryJobs);
  }

  /** Uses up whatever is left of the allocation. */
  exhaust(): void {
    const left = this.max - this.used();
    if (left > 0) this.count(left);
  }

  reset(): void {
    this.buckets.clear();
    this.endpoints.clear();
    this.bulkQueryJobs.clear();
  }

  endpointCounts(): Record<string, number> {
    return Object.fromEntries(this.endpoints);
  }

  /** `Sforce-Limit-Info` header value. */
  header(): string {
    return `api-usage=${this.used()}/${this.max}`;
  }

  private add(map: Map<number, number>, n: number): void {
    const hour = Math.floor(this.now() / HOUR_MS);
    map.set(hour, (map.get(hour) ?? 0) + n);
  }

  private sum(map: Map<number, number>): number {
    const oldest = Math.floor(this.now() / HOUR_MS) - 23;
    let total = 0;
    for (const [hour, n] of map) {
      if (hour < oldest) map.delete(hour);
      else total += n;
    }
    return total;
  }
}
