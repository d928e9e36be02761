import { forEachLimit } from '../../src/concurrency';

describe('forEachLimit', () => {
  it('runs every item once with no more than the limit in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachLimit(
      Array.from({ length: 50 }, (_, i) => i),
      4,
      async (i) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, i % 3));
        seen.push(i);
        inFlight--;
      },
    );
    expect(most).toBe(4);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('rejects with the failure of one item', async () => {
    await expect(
      forEachLimit([1, 2, 3], 2, async (i) => {
        if (i === 2) throw new Error('item 2 failed');
      }),
    ).rejects.toThrow('item 2 failed');
  });

  it('does nothing for no items', async () => {
    const fn = jest.fn(async () => undefined);
    await forEachLimit([], 8, fn);
    expect(fn).not.toHaveBeenCalled();
  });
});
