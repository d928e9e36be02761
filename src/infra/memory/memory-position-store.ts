import { SyncError } from '../../errors';
import type { PositionStore } from '../../core/position-store';
import { assertKeyParts } from '../../core/version-store';

/** PositionStore in process memory, for unit tests and single-process demo runs. */
export class MemoryPositionStore implements PositionStore {
  private readonly positions: Map<string, string>;
  private closed = false;

  /** `sharedWith`: another handle on the same data, as a second process would have one. */
  constructor(options: { sharedWith?: MemoryPositionStore } = {}) {
    this.positions = options.sharedWith?.positions ?? new Map();
  }

  private check(op: string, name: string): void {
    assertKeyParts({ name });
    if (this.closed) {
      throw new SyncError('STORE_UNAVAILABLE', 'position store is closed', {
        retriable: false,
        context: { op, name },
      });
    }
  }

  async get(name: string): Promise<string | null> {
    this.check('get', name);
    return this.positions.get(name) ?? null;
  }

  async set(name: string, value: string): Promise<void> {
    this.check('set', name);
    this.positions.set(name, value);
  }

  async compareAndSet(name: string, expected: string | null, value: string): Promise<boolean> {
    this.check('compareAndSet', name);
    if ((this.positions.get(name) ?? null) !== expected) return false;
    this.positions.set(name, value);
    return true;
  }

  /** Closes this handle only; others sharing its data keep working. */
  async close(): Promise<void> {
    this.closed = true;
  }
}
