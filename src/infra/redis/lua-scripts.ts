import { readFileSync } from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';
import { SyncError } from '../../errors';

/**
 * Where the .lua files are at run time. Under ts-jest and ts-node this module runs from
 * src/infra/redis, beside lua/. Compiled, it runs from dist/src/infra/redis and tsc does not
 * copy .lua files, so the second candidate walks back from dist to the source tree, which the
 * build keeps beside dist. One source of truth, nothing generated, and a missing file fails at
 * start-up with every path tried.
 */
const candidateDirs = [
  path.join(__dirname, 'lua'),
  path.resolve(__dirname, '..', '..', '..', '..', 'src', 'infra', 'redis', 'lua'),
];

const cache = new Map<string, string>();

/** The text of `lua/<fileName>`, read once per process. Throws INTERNAL when it cannot be found. */
export function readLua(fileName: string): string {
  const hit = cache.get(fileName);
  if (hit !== undefined) return hit;
  const tried: string[] = [];
  for (const dir of candidateDirs) {
    const file = path.join(dir, fileName);
    tried.push(file);
    try {
      const text = readFileSync(file, 'utf8');
      cache.set(fileName, text);
      return text;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new SyncError('INTERNAL', `Lua script ${fileName} not found`, { context: { tried } });
}

/** Number of KEYS a script takes, from its name (`compare-and-apply-6.lua` takes 6). */
export function keyCountOf(fileName: string): number {
  const match = /-(\d+)\.lua$/.exec(fileName);
  if (!match?.[1]) {
    throw new SyncError('INTERNAL', `Lua file name must end in -<key count>.lua: ${fileName}`);
  }
  return Number(match[1]);
}

export type ScriptCall = (
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
) => Promise<unknown>;

/**
 * Registers `lua/<fileName>` on the client with defineCommand, which sends EVALSHA and falls
 * back to EVAL on NOSCRIPT, so the script survives SCRIPT FLUSH and server restarts. The key
 * count comes from the file name and is checked on every call.
 */
export function defineScript(redis: Redis, fileName: string): ScriptCall {
  const numberOfKeys = keyCountOf(fileName);
  const name = `ils_${fileName.replace(/\.lua$/, '').replace(/-/g, '_')}`;
  redis.defineCommand(name, { numberOfKeys, lua: readLua(fileName) });
  const command = (
    redis as unknown as Record<string, (...a: Array<string | number>) => Promise<unknown>>
  )[name];
  if (typeof command !== 'function') {
    throw new SyncError('INTERNAL', `defineCommand did not register ${name}`);
  }
  return (keys, args) => {
    if (keys.length !== numberOfKeys) {
      throw new SyncError('INTERNAL', `${fileName} takes ${numberOfKeys} keys, got ${keys.length}`);
    }
    return command.call(redis, ...keys, ...args);
  };
}
