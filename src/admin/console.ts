import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import express from 'express';
import type { RequestHandler, Response, Router } from 'express';
import helmet from 'helmet';

/**
 * The admin console: static files from the package's `console/` folder, served as they are in
 * the repository (no build step), under a strict Content-Security-Policy. The page talks to
 * the JSON API only (docs/console.md).
 *
 * - `GET /` is console/index.html; `GET /console/<file>` its scripts, styles and icons.
 * - Scripts and styles come from this origin only: no inline script or style, no CDN, no
 *   external font, no framing; the page may call this origin only.
 */
const CONSOLE_CSP_DIRECTIVES: Record<string, string[]> = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'manifest-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/** The policy as the header carries it. */
export const CONSOLE_CSP = Object.entries(CONSOLE_CSP_DIRECTIVES)
  .map(([name, values]) => `${name} ${values.join(' ')}`)
  .join(';');

/**
 * Headers every answer gets, through helmet: the console's CSP (JSON answers are harmless
 * under it, and one policy everywhere leaves no page without one), nosniff, no framing, no
 * referrer, same-origin opener and resources, HSTS (ignored by browsers over plain HTTP).
 */
export const securityHeaders: RequestHandler = helmet({
  contentSecurityPolicy: { useDefaults: false, directives: CONSOLE_CSP_DIRECTIVES },
  referrerPolicy: { policy: 'no-referrer' },
  frameguard: { action: 'deny' },
});

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
      setHeaders: (res) => {
        res.setHeader('Cache-Control', 'no-cache');
      },
    }),
  );
  return router;
}
