import { SendGroups } from '../../src/infra/kafka/send-groups';
import type { TopicSend } from '../../src/infra/kafka/send-groups';

/** A producer whose requests are answered when the test says, and which records each one. */
class Broker {
  readonly requests: Array<Array<TopicSend<string>>> = [];
  private answers: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  /** Records the broker refuses (the request fails as a whole, as Kafka's does). */
  refuse = new Set<string>();
  down = false;

  request = (sends: Array<TopicSend<string>>): Promise<void> => {
    this.requests.push(sends);
    const bad = sends.some((s) => s.messages.some((m) => this.refuse.has(m)));
    if (bad) return Promise.reject(Object.assign(new Error('refused'), { refused: true }));
    if (this.down) return Promise.reject(new Error('connection refused'));
    return new Promise((resolve, reject) => this.answers.push({ resolve, reject }));
  };

  answerAll(): void {
    for (const a of this.answers.splice(0)) a.resolve();
  }
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function groups(broker: Broker, records = 500): SendGroups<string> {
  return new SendGroups<string>(
    broker.request,
    { records, bytes: 1_000_000 },
    (m) => m.length,
    (err) => (err as { refused?: boolean }).refused === true,
  );
}

describe('SendGroups', () => {
  it('sends at once when idle, and gathers what comes in while a request is out into the next one', async () => {
    const broker = new Broker();
    const g = groups(broker);
    const first = g.send('t1', ['a1']);
    await settle();
    expect(broker.requests).toEqual([[{ topic: 't1', messages: ['a1'] }]]);
    const later = [g.send('t1', ['b1', 'b2']), g.send('t2', ['c1']), g.send('t1', ['d1'])];
    await settle();
    expect(broker.requests).toHaveLength(1);
    broker.answerAll();
    await first;
    await settle();
    expect(broker.requests[1]).toEqual([
      { topic: 't1', messages: ['b1', 'b2'] },
      { topic: 't2', messages: ['c1'] },
      { topic: 't1', messages: ['d1'] },
    ]);
    broker.answerAll();
    await Promise.all(later);
    expect(broker.requests).toHaveLength(2);
  });

  it('keeps each request within the record limit, and sends a bigger send alone', async () => {
    const broker = new Broker();
    const g = groups(broker, 4);
    const all = [g.send('t', ['x'])];
    await settle();
    all.push(g.send('t', ['a1', 'a2', 'a3']), g.send('t', ['b1', 'b2']), g.send('t', ['c1']));
    all.push(g.send('t', ['big1', 'big2', 'big3', 'big4', 'big5']));
    for (let i = 0; i < 10; i++) {
      broker.answerAll();
      await settle();
    }
    await Promise.all(all);
    expect(broker.requests.map((r) => r.map((s) => s.messages.length))).toEqual([
      [1],
      [3],
      [2, 1],
      [5],
    ]);
  });

  it('a group refused for one send goes again one send at a time: only that caller fails', async () => {
    const broker = new Broker();
    const g = groups(broker);
    const blocker = g.send('t', ['x']);
    await settle();
    broker.refuse.add('poison');
    const good1 = g.send('t', ['g1']);
    const bad = g.send('t', ['poison']);
    bad.catch(() => undefined); // looked at below
    const good2 = g.send('t', ['g2']);
    broker.answerAll();
    await blocker;
    // Answer each request as it comes (the group's, then each send's alone).
    for (let i = 0; i < 10; i++) {
      await settle();
      broker.answerAll();
    }
    await expect(bad).rejects.toMatchObject({ refused: true });
    await expect(good1).resolves.toBeUndefined();
    await expect(good2).resolves.toBeUndefined();
    // The group, then each alone.
    expect(broker.requests.slice(1).map((r) => r.map((s) => s.messages[0]))).toEqual([
      ['g1', 'poison', 'g2'],
      ['g1'],
      ['poison'],
      ['g2'],
    ]);
  });

  it('a group that failed for the connection fails all its callers, without sending them again', async () => {
    const broker = new Broker();
    const g = groups(broker);
    const blocker = g.send('t', ['x']);
    await settle();
    const callers = [g.send('t', ['a']), g.send('t', ['b'])];
    for (const c of callers) c.catch(() => undefined); // looked at below
    broker.down = true;
    broker.answerAll();
    await blocker;
    for (const c of callers) await expect(c).rejects.toThrow('connection refused');
    expect(broker.requests).toHaveLength(2);
    // Back up: the next send goes alone and through.
    broker.down = false;
    const next = g.send('t', ['c']);
    await settle();
    broker.answerAll();
    await next;
    expect(broker.requests).toHaveLength(3);
  });
});
