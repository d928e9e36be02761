// @ts-check
/**
 * DOM building without innerHTML: every value reaches the page as text, so nothing the API
 * answers can become markup (and the CSP forbids inline script anyway).
 */

/** @typedef {Node | string | number | null | undefined | false} Child */
/** @typedef {Child | Array<Child | Child[] | Array<Child | Child[]>>} Children */

/**
 * Creates an element. Props: `class`, `for`, `on<event>` listeners, DOM properties for
 * value/checked/disabled/hidden/selected, any other name as an attribute (true = present).
 * @param {string} tag
 * @param {Record<string, unknown> | null} [props]
 * @param {...Children} children
 * @returns {HTMLElement}
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Creates an SVG element (for the run chart).
 * @param {string} tag
 * @param {Record<string, string | number> | null} [attrs]
 * @param {...Children} children
 * @returns {SVGElement}
 */
export function svg(tag, attrs, ...children) {
  const el = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  for (const [k, v] of Object.entries(attrs ?? {})) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'open']);

/**
 * @param {HTMLElement} el
 * @param {Record<string, unknown> | null | undefined} props
 */
function applyProps(el, props) {
  if (!props) return;
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) {
      if (PROPERTIES.has(key) && value === false) /** @type {any} */ (el)[key] = false;
      continue;
    }
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), /** @type {EventListener} */ (value));
    } else if (key === 'class') {
      el.className = String(value);
    } else if (key === 'for') {
      el.setAttribute('for', String(value));
    } else if (PROPERTIES.has(key)) {
      /** @type {any} */ (el)[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

/**
 * @param {Element} el
 * @param {Children[]} children
 */
function append(el, children) {
  for (const child of /** @type {Child[]} */ (children.flat(Infinity))) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'number' ? String(child) : child);
  }
}

/**
 * Replaces an element's children.
 * @param {Element} el
 * @param {...Children} children
 */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

let ids = 0;
/** A document-unique id for label/field pairs. @param {string} prefix */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** Says `text` through the polite live region (screen readers), without moving focus. @param {string} text */
export function announce(text) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A fresh node after a tick, so the same text twice is announced twice.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/**
 * A notice box. Errors are alerts (read at once); others are status messages.
 * @param {'error' | 'ok' | 'warn' | 'info'} kind
 * @param {...Children} children
 */
export function notice(kind, ...children) {
  return h(
    'div',
    { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    ...children,
  );
}

const numberFormat = new Intl.NumberFormat();
/** @param {number | null | undefined} n */
export function num(n) {
  return typeof n === 'number' && Number.isFinite(n) ? numberFormat.format(n) : '–';
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
/** @param {string | number | null | undefined} t ISO text or epoch ms */
export function when(t) {
  if (t === null || t === undefined || t === '') return '–';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : dateTime.format(d);
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
/** "3 minutes ago". @param {string | number | null | undefined} t */
export function ago(t) {
  if (t === null || t === undefined || t === '') return '–';
  const ms = new Date(t).getTime();
  if (Number.isNaN(ms)) return String(t);
  const s = Math.round((ms - Date.now()) / 1000);
  const abs = Math.abs(s);
  if (abs < 45) return relative.format(s, 'second');
  if (abs < 2700) return relative.format(Math.round(s / 60), 'minute');
  if (abs < 64800) return relative.format(Math.round(s / 3600), 'hour');
  return relative.format(Math.round(s / 86400), 'day');
}

/** "3.2 s", "4 min 5 s". @param {number | null | undefined} ms */
export function duration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return m < 60 ? `${m} min ${s} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "reading-salesforce" -> "Reading salesforce". @param {string} s */
export function humanize(s) {
  const t = String(s).replace(/[_-]+/g, ' ').trim();
  return t.charAt(0).toUpperCase() + t.slice(1);
}
