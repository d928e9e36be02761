// @ts-check
import { h } from '../dom.js';

/** Connection states as the tile shows them, with what to do next. */
export const CONNECTION = {
  connected: { label: 'Connected', badge: 'badge-ok' },
  disconnected: { label: 'Not connected', badge: '' },
  needs_reauth: { label: 'Needs reauthorization', badge: 'badge-warn' },
  package_missing: { label: 'Package missing', badge: 'badge-warn' },
};

/** @param {string} state */
export function connectionBadge(state) {
  const known = /** @type {Record<string, {label: string, badge: string}>} */ (CONNECTION)[state];
  return h('span', { class: `badge ${known?.badge ?? ''}` }, known?.label ?? state);
}

/** The three sync types, with the seed article's one-line explanations. */
export const SYNC_TYPES = [
  {
    value: 'initlive_to_salesforce',
    label: 'InitLive → Salesforce (one-way)',
    short: 'InitLive → Salesforce',
    help: 'Pushes InitLive’s information into Salesforce. A change in InitLive updates Salesforce; a change in Salesforce does not update InitLive.',
  },
  {
    value: 'salesforce_to_initlive',
    label: 'Salesforce → InitLive (one-way)',
    short: 'Salesforce → InitLive',
    help: 'Pushes Salesforce’s information into InitLive. A change in Salesforce updates InitLive; a change in InitLive does not update Salesforce.',
  },
  {
    value: 'two_way',
    label: 'InitLive ⇄ Salesforce (two-way)',
    short: 'Two-way',
    help: 'Updates both systems. A change on either side updates the other; the default system wins when both change before a sync.',
  },
];

/** @param {string} direction */
export function directionText(direction) {
  return SYNC_TYPES.find((t) => t.value === direction)?.short ?? direction;
}

/** "InitLive → Salesforce (one-way)". @param {string} direction */
export function directionLabel(direction) {
  return SYNC_TYPES.find((t) => t.value === direction)?.label ?? direction;
}

/** @param {any} schedule */
export function scheduleText(schedule) {
  if (!schedule || schedule.mode === 'manual') return 'Manual (Sync now)';
  if (schedule.mode === 'interval') return `Every ${schedule.everyMinutes} minutes`;
  if (schedule.mode === 'daily') return `Every day at ${schedule.at} (${schedule.timezone})`;
  return String(schedule.mode);
}

const RUN_STATUS = {
  queued: ['Queued', 'badge-info'],
  running: ['Running', 'badge-info'],
  succeeded: ['Succeeded', 'badge-ok'],
  partially_succeeded: ['Partly succeeded', 'badge-warn'],
  failed: ['Failed', 'badge-bad'],
};

/** @param {string} status */
export function runBadge(status) {
  const [label, cls] = /** @type {Record<string, string[]>} */ (RUN_STATUS)[status] ?? [status, ''];
  return h('span', { class: `badge ${cls}` }, label);
}

/** @param {any} run */
export function isActive(run) {
  return !!run && (run.status === 'queued' || run.status === 'running');
}

/** Both sides of a per-side count, 0 for what is missing. @param {any} v */
export function sides(v) {
  return {
    initlive: typeof v?.initlive === 'number' ? v.initlive : 0,
    salesforce: typeof v?.salesforce === 'number' ? v.salesforce : 0,
  };
}

/** Records a run wrote (created, updated and deleted, both sides). @param {any} run */
export function writtenBySide(run) {
  const c = run?.counts ?? {};
  const out = { initlive: 0, salesforce: 0 };
  for (const key of ['created', 'updated', 'deleted']) {
    const s = sides(c[key]);
    out.initlive += s.initlive;
    out.salesforce += s.salesforce;
  }
  return out;
}

/** A definition list of [term, description] pairs. @param {Array<[string, any] | null>} rows */
export function facts(rows) {
  return h(
    'dl',
    { class: 'facts' },
    rows.filter((r) => r !== null).map(([dt, dd]) => [h('dt', null, dt), h('dd', null, dd)]),
  );
}

/**
 * A table that scrolls sideways on a narrow screen; the scroll area is focusable and named so
 * keyboard users can scroll it too.
 * @param {string} label
 * @param {HTMLElement} table
 */
export function tableWrap(label, table) {
  return h(
    'div',
    { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': label },
    table,
  );
}
