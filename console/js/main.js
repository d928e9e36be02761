// @ts-check
import { ApiError, api, setCsrfToken, whenSessionEnds } from './api.js';
import { announce, h, notice, replace } from './dom.js';
import { startPolling } from './view.js';
import { renderSignIn } from './views/sign-in.js';
import { renderOrgs } from './views/orgs.js';
import { renderIntegrations } from './views/integrations.js';
import { renderSettings } from './views/settings.js';
import { renderErrors } from './views/errors.js';
import { renderVolunteers } from './views/volunteers.js';
import { renderPackageHelp } from './views/package-help.js';

/**
 * The console's entry: session check, a hash router (`#/orgs/<id>/...`: no server routes to
 * keep in step, and the back button works), and one error boundary so a failure shows its
 * message instead of a blank page.
 */

/** @typedef {import('./view.js').ViewContext} ViewContext */
/** @typedef {(ctx: ViewContext) => Promise<void> | void} View */

/** @type {Array<[RegExp, string[], View]>} */
const ROUTES = [
  [/^\/orgs$/, [], renderOrgs],
  [/^\/orgs\/([^/]+)$/, ['orgId'], renderIntegrations],
  [/^\/orgs\/([^/]+)\/salesforce\/settings$/, ['orgId'], renderSettings],
  [/^\/orgs\/([^/]+)\/salesforce\/errors$/, ['orgId'], renderErrors],
  [/^\/orgs\/([^/]+)\/salesforce\/volunteers$/, ['orgId'], renderVolunteers],
  [/^\/help\/package$/, [], renderPackageHelp],
];

const state = {
  signedIn: false,
  /** Where to go after signing in (a hash, never a token). */
  returnTo: '#/orgs',
  /** Closes the current view (stops its polling). */
  closeView: () => {},
  /** A message the sign-in page shows (signed out, session ended). @type {string | null} */
  signInMessage: null,
};

function main() {
  const el = document.getElementById('main');
  if (!el) throw new Error('the page has no main element');
  return el;
}

/** Shows any failure in the page: never a blank screen. @param {unknown} err */
function showFatal(err) {
  const message = err instanceof Error ? err.message : String(err);
  replace(
    main(),
    h('h1', { id: 'page-title', tabindex: '-1' }, 'Something went wrong'),
    notice('error', message || 'An unexpected error occurred.'),
    h('p', null, h('a', { class: 'button', href: '#/orgs' }, 'Back to organizations')),
  );
}

async function route() {
  state.closeView();
  let closed = false;
  /** @type {Array<() => void>} */
  const stops = [];
  state.closeView = () => {
    closed = true;
    for (const stop of stops) stop();
  };
  const raw = location.hash.replace(/^#/, '') || '/orgs';
  const [path = '/orgs', queryText = ''] = raw.split('?');
  const query = new URLSearchParams(queryText);
  document.getElementById('account-nav')?.toggleAttribute('hidden', !state.signedIn);

  if (!state.signedIn) {
    if (path !== '/sign-in') state.returnTo = `#${raw}`;
    await renderSignIn({
      main: main(),
      message: state.signInMessage,
      onSignedIn: (csrf) => {
        setCsrfToken(csrf);
        state.signedIn = true;
        state.signInMessage = null;
        const target = state.returnTo.startsWith('#/sign-in') ? '#/orgs' : state.returnTo;
        if (location.hash === target) void route();
        else location.hash = target;
      },
    });
    return;
  }
  if (path === '/sign-in') {
    location.hash = '#/orgs';
    return;
  }
  for (const [pattern, names, view] of ROUTES) {
    const m = pattern.exec(path);
    if (!m) continue;
    /** @type {Record<string, string>} */
    const params = {};
    names.forEach((name, i) => {
      params[name] = decodeURIComponent(m[i + 1] ?? '');
    });
    /** @type {ViewContext} */
    const ctx = {
      main: main(),
      params,
      query,
      closed: () => closed,
      poll: (tick, fast) => stops.push(startPolling(() => closed, tick, fast)),
    };
    replace(ctx.main, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
    try {
      await view(ctx);
    } catch (err) {
      if (closed) return;
      if (err instanceof ApiError && err.status === 401) return; // sign-in is being shown
      showFatal(err);
    }
    if (!closed) {
      const heading = document.getElementById('page-title');
      heading?.focus();
      document.title = `${heading?.textContent ?? 'Console'} · InitLive Salesforce sync`;
    }
    return;
  }
  replace(
    main(),
    h('h1', { id: 'page-title', tabindex: '-1' }, 'Page not found'),
    h(
      'p',
      null,
      'There is no page at this address. ',
      h('a', { href: '#/orgs' }, 'Go to the organizations'),
    ),
  );
  document.getElementById('page-title')?.focus();
}

whenSessionEnds(() => {
  if (!state.signedIn) return;
  state.signedIn = false;
  setCsrfToken(null);
  state.signInMessage = 'Your session has ended. Sign in again to continue.';
  void route();
});

async function signOut() {
  try {
    await api('DELETE', '/api/session');
  } catch (err) {
    // A session that already ended is signed out all the same.
    if (!(err instanceof ApiError && err.status === 401)) {
      announce(`Sign out failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
  }
  state.signedIn = false;
  setCsrfToken(null);
  state.signInMessage = 'You are signed out.';
  state.returnTo = '#/orgs';
  if (location.hash === '#/sign-in') void route();
  else location.hash = '#/sign-in';
}

async function boot() {
  document.getElementById('sign-out')?.addEventListener('click', () => void signOut());
  window.addEventListener('hashchange', () => void route());
  window.addEventListener('error', (e) => showFatal(e.error ?? e.message));
  window.addEventListener('unhandledrejection', (e) => showFatal(e.reason));
  try {
    const session = await api('GET', '/api/session');
    setCsrfToken(session.csrfToken);
    state.signedIn = true;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) {
      state.signInMessage = err instanceof Error ? err.message : String(err);
    }
  }
  await route();
}

void boot().catch(showFatal);
