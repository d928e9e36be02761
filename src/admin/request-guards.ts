import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { MemoryStore, ipKeyGenerator, type Options } from 'express-rate-limit';
import { sendError } from './http';

/** A client's request id is echoed only when it is short and plain (it lands in log lines). */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id of an answer (set by `requestIds`). */
export function requestIdOf(res: Response): string {
  return String(res.locals.requestId ?? '');
}

/**
 * Gives every request an id: the client's `X-Request-Id` when it sends a plain one, a new UUID
 * otherwise. Every answer carries it, and the request's log lines name it, so a user quoting
 * an error can be found in the logs.
 */
export const requestIds: RequestHandler = (req, res, next) => {
  const sent = req.get('x-request-id');
  const id = sent !== undefined && CLIENT_REQUEST_ID.test(sent) ? sent : randomUUID();
  res.locals.requestId = id;
  res.setHeader('X-Request-Id', id);
  next();
};

export interface FailedAuthLimit {
  /** Failed authentications allowed per client address in one window. */
  limit: number;
  windowMs: number;
}

/**
 * Limits failed authentication per client address: after `limit` answers of 401 within the
 * window, the address gets 429 with Retry-After on `/api` until the window ends, before any
 * credential is checked (so guessing cannot go on behind the 429s). Only answers of 401 count,
 * once they are sent: requests that authenticate, however many run at once, never use the
 * allowance up. Windows are kept by express-rate-limit's MemoryStore, per process; the address
 * is the socket's, or X-Forwarded-For's from a proxy on loopback (`trust proxy`), IPv6 by /56
 * as express-rate-limit advises.
 */
export function failedAuthLimit(options: FailedAuthLimit): RequestHandler & { close(): void } {
  const store = new MemoryStore();
  store.init({ windowMs: options.windowMs } as Options);
  const middleware: RequestHandler = (req, res, next) => {
    const key = ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    store.get(key).then(
      (seen) => {
        const resetMs = seen?.resetTime ? seen.resetTime.getTime() - Date.now() : 0;
        if (seen && seen.totalHits >= options.limit && resetMs > 0) {
          res.setHeader('Retry-After', String(Math.ceil(resetMs / 1000)));
          sendError(
            res,
            'RATE_LIMITED',
            `too many failed authentications from this address; try again in ${Math.ceil(resetMs / 1000)} s`,
            undefined,
            429,
          );
          return;
        }
        res.on('finish', () => {
          if (res.statusCode === 401) void store.increment(key);
        });
        next();
      },
      (err: unknown) => next(err),
    );
  };
  return Object.assign(middleware, { close: () => store.shutdown() });
}
