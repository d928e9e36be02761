/** One caller's records for one topic. */
export interface TopicSend<M> {
  topic: string;
  messages: M[];
}

export interface SendGroupLimits {
  /** Records per request. */
  records: number;
  /** Approximate bytes per request. */
  bytes: number;
}

interface Waiting<M> {
  send: TopicSend<M>;
  records: number;
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for one producer with one request in flight: sends that arrive while a request
 * is out wait, and go together in the next one, up to `limits`. Nothing lingers: an idle
 * producer sends at once, a busy one sends what queued meanwhile. With many organizations,
 * each source's few records would otherwise be a produce request of their own.
 *
 * `request` gets one send alone (it may be bigger than one request, and is split by the
 * caller's rules) or several that fit one. A group the broker refused for one of its sends'
 * records or topic (`refusedFor`) goes again one send at a time, so only that send's caller
 * fails; other failures (connection, time-out) fail the group's callers together, each then
 * retrying as it would have anyway.
 */
export class SendGroups<M> {
  private readonly queue: Array<Waiting<M>> = [];
  private running = false;

  constructor(
    private readonly request: (sends: Array<TopicSend<M>>) => Promise<void>,
    private readonly limits: SendGroupLimits,
    private readonly sizeOf: (message: M) => number,
    private readonly refusedFor: (err: unknown) => boolean,
  ) {}

  send(topic: string, messages: M[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let bytes = 0;
      for (const m of messages) bytes += this.sizeOf(m);
      this.queue.push({
        send: { topic, messages },
        records: messages.length,
        bytes,
        resolve,
        reject,
      });
      this.pump();
    });
  }

  private pump(): void {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    void this.run(this.take()).finally(() => {
      this.running = false;
      this.pump();
    });
  }

  /** The first waiting send, and those after it that fit one request with it. */
  private take(): Array<Waiting<M>> {
    const group = [this.queue.shift()!];
    let records = group[0]!.records;
    let bytes = group[0]!.bytes;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (records + next.records > this.limits.records) break;
      if (bytes + next.bytes > this.limits.bytes) break;
      group.push(this.queue.shift()!);
      records += next.records;
      bytes += next.bytes;
    }
    return group;
  }

  private async run(group: Array<Waiting<M>>): Promise<void> {
    try {
      await this.request(group.map((w) => w.send));
      for (const w of group) w.resolve();
      return;
    } catch (err) {
      if (group.length === 1 || !this.refusedFor(err)) {
        for (const w of group) w.reject(err);
        return;
      }
    }
    for (const w of group) {
      try {
        await this.request([w.send]);
        w.resolve();
      } catch (err) {
        w.reject(err);
      }
    }
  }
}
