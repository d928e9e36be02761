import type { PositionStore } from '../core/position-store';
import type { StateWitness } from './state-witness';

/** Source positions (`source:<system>:<org>:...`) are copied; markers and leases are not. */
const COPIED = /^source:/;

/**
 * A PositionStore whose source positions are also kept by the state witness, so a source that
 * starts after Redis lost its data resumes near where the last holder was instead of at the
 * start of the InitLive feed or the end of the change events. A copy is written at most once
 * per `everyMs` per position (the latest value), after the store took it: a restored position
 * is one that was stored, at most that much behind, and reading again from there is what
 * at-least-once delivery already allows.
 */
export class WitnessedPositionStore implements PositionStore {
  private readonly dirty = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly inner: PositionStore,
    private readonly witness: StateWitness,
    private readonly everyMs = 1_000,
  ) {}

  get(name: string): Promise<string | null> {
    return this.inner.get(name);
  }

  async set(name: string, value: string): Promise<void> {
    await this.inner.set(name, value);
    this.copy(name, value);
  }

  async compareAndSet(name: string, expected: string | null, value: string): Promise<boolean> {
    const moved = await this.inner.compareAndSet(name, expected, value);
    if (moved) this.copy(name, value);
    return moved;
  }

  /** Writes what is waiting now (tests, shutdown). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const entries = [...this.dirty];
    this.dirty.clear();
    this.flushing = this.flushing.then(() => this.witness.recordPositions(entries));
    return this.flushing;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.inner.close();
  }

  private copy(name: string, value: string): void {
    if (!COPIED.test(name)) return;
    this.dirty.set(name, value);
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), this.everyMs);
    this.timer.unref();
  }
}
