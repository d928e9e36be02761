// @ts-check
import { h, replace } from './dom.js';

/**
 * What a view gets: where to render, the route's parameters, and polling that stops when the
 * view is left. Views render into `main` and refresh parts of themselves in place.
 * @typedef {object} ViewContext
 * @property {HTMLElement} main
 * @property {Record<string, string>} params
 * @property {URLSearchParams} query
 * @property {() => boolean} closed true once the user has moved to another view
 * @property {(tick: () => Promise<void>, fast: () => boolean) => void} poll
 */

/** Polling intervals: every 2 s while a run goes, every 15 s otherwise. */
export const FAST_POLL_MS = 2_000;
export const SLOW_POLL_MS = 15_000;

/**
 * Runs `tick` again and again while the view is open: fast while `fast()` says a run is going,
 * slow otherwise, paused while the tab is hidden. A failing tick does not stop the loop; the
 * tick shows its own error.
 * @param {() => boolean} closed
 * @param {() => Promise<void>} tick
 * @param {() => boolean} fast
 */
export function startPolling(closed, tick, fast) {
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  const schedule = () => {
    if (closed()) return;
    timer = setTimeout(run, fast() ? FAST_POLL_MS : SLOW_POLL_MS);
  };
  const run = async () => {
    timer = null;
    if (closed()) return;
    if (document.hidden) {
      document.addEventListener('visibilitychange', run, { once: true });
      return;
    }
    try {
      await tick();
    } catch {
      // the tick renders its own error
    }
    schedule();
  };
  schedule();
  return () => {
    if (timer) clearTimeout(timer);
  };
}

/**
 * Re-renders `container` keeping keyboard focus: an element with an id that had focus gets it
 * back after the refresh, so polling never throws a keyboard user out of place.
 * @param {Element} container
 * @param {() => Array<Node | string | null | undefined | false>} build
 */
export function refreshInPlace(container, build) {
  const active = document.activeElement;
  const focusedId = active && container.contains(active) && active.id ? active.id : null;
  replace(container, ...build());
  if (focusedId) document.getElementById(focusedId)?.focus();
}

/**
 * The page heading every view starts with; it takes focus after navigation so screen readers
 * announce the new page.
 * @param {string} text
 */
export function pageHeading(text) {
  return h('h1', { id: 'page-title', tabindex: '-1' }, text);
}

/**
 * Breadcrumbs and the tabs of an organization's pages.
 * @param {string} orgId
 * @param {'integrations' | 'settings' | 'errors' | 'volunteers'} active
 */
export function orgNav(orgId, active) {
  const base = `#/orgs/${encodeURIComponent(orgId)}`;
  /** @param {string} href @param {string} label @param {string} key */
  const tab = (href, label, key) =>
    h('li', null, h('a', { href, ...(active === key ? { 'aria-current': 'page' } : {}) }, label));
  return [
    h(
      'nav',
      { class: 'breadcrumbs', 'aria-label': 'Breadcrumb' },
      h(
        'ol',
        null,
        h('li', null, h('a', { href: '#/orgs' }, 'Organizations')),
        h('li', null, orgId),
      ),
    ),
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'Organization' },
      h(
        'ul',
        null,
        tab(base, 'Integrations', 'integrations'),
        tab(`${base}/salesforce/settings`, 'Salesforce settings', 'settings'),
        tab(`${base}/salesforce/errors`, 'Errors', 'errors'),
        tab(`${base}/salesforce/volunteers`, 'Volunteer lookup', 'volunteers'),
      ),
    ),
  ];
}
