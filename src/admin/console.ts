import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import express from 'express';
import type { RequestHandler, Response, Router } from 'express';

/**
 * The admin console: static files from the package's `console/` folder, served as they are in
 * the repository (no build step), under a strict Content-Security-Policy. The page talks to
 * the JSON API only (docs/console.md).
 *
 * - `GET /` is console/index.html; `GET /console/<file>` its scripts, styles and icons.
 * - Scripts and styles come from this origin only: no inline script or style, no CDN, no
 *   external font, no framing; the page may call this origin only.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every answer gets: no MIME sniffing, no framing, no referrer to other sites. */
export const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  next();
};

/** Puts the console's Content-Security-Policy on an HTML page's answer. */
export function setConsoleCsp(res: Response): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
}

/** The package's console/ folder: found from this file whether it runs from src/ or dist/src/. */
export function defaultConsoleDir(): string | null {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) {
      const candidate = join(dir, 'console');
      return existsSync(join(candidate, 'index.html')) ? candidate : null;
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** Serves the console from `dir`; without one, `/` says the console is not installed. */
export function consoleRouter(dir: string | null): Router {
  const router = express.Router();
  if (dir === null) {
    router.get('/', (_req, res) => {
      res
        .status(404)
        .type('text/plain')
        .send('The admin console is not installed in this build; the JSON API is under /api.\n');
    });
    return router;
  }
  const html = (res: Response): void => {
    setConsoleCsp(res);
    // The page is the same for everyone and holds no data: a changed release shows at once.
    res.setHeader('Cache-Control', 'no-cache');
  };
  router.get('/', (_req, res) => {
    html(res);
    res.sendFile(join(dir, 'index.html'));
  });
  router.use(
    '/console',
    express.static(dir, {
      index: false,
      redirect: false,
      fallthrough: true,
      dotfiles: 'ignore',
      setHeaders: (res, path) => {
        res.setHeader('Cache-Control', 'no-cache');
        if (path.endsWith('.html')) setConsoleCsp(res);
      },
    }),
  );
  return router;
}
