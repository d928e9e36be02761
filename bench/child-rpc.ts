import { fork } from 'node:child_process';

/**
 * Request and answer over a forked child's IPC channel, for the benches that keep part of the
 * work in a process of its own (sandboxes, connectors). The child runs `file` with `flag`.
 */

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

export interface ChildRpc {
  pid: number;
  ask<T>(op: string, args?: Record<string, unknown>): Promise<T>;
  /** Asks `close` (the child exits after answering) and waits for the exit. */
  close(): Promise<void>;
}

export function forkChild(file: string, flag: string, execArgv: string[] = []): ChildRpc {
  // Under ts-node the child needs the same loader; the built bench (dist/) runs plain JS.
  const loader = file.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only'] : [];
  const child = fork(file, [flag], { execArgv: [...loader, ...execArgv], stdio: 'inherit' });
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  child.on('message', (m: Reply) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.ok) w?.resolve(m.value);
    else w?.reject(new Error(m.error));
  });
  child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`${flag} process exited (${code})`));
    waiting.clear();
  });
  const ask = <T>(op: string, args: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve: (v) => resolve(v as T), reject });
      child.send({ ...args, op, id });
    });
  return {
    pid: child.pid ?? 0,
    ask,
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      await ask<void>('close').catch(() => undefined);
      await exited;
    },
  };
}

/**
 * The child's side: answers each request with `handle(op, request)`; `close` runs `onClose`,
 * answers, then exits. A parent that dies or lets go ends the child too: nothing else would.
 */
export function serveChild(
  handle: (op: string, req: Record<string, unknown>) => Promise<unknown>,
  onClose: () => Promise<void>,
): void {
  process.on('disconnect', () => process.exit(0));
  process.on('message', (req: Record<string, unknown> & { id: number; op: string }) => {
    const run = async (): Promise<unknown> => {
      if (req.op !== 'close') return handle(req.op, req);
      await onClose();
      setImmediate(() => process.exit(0));
      return undefined;
    };
    run().then(
      (value) => process.send?.({ id: req.id, ok: true, value: value ?? null }),
      (err: unknown) => process.send?.({ id: req.id, ok: false, error: String(err) }),
    );
  });
}
