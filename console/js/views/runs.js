// @ts-check
import { ago, duration, h, humanize, num, svg, when } from '../dom.js';
import { isActive, runBadge, sides, tableWrap, writtenBySide } from './common.js';

/** Per-side count rows the outcome names; any other per-side count is shown after them. */
const SIDE_ROWS = [
  ['read', 'Read'],
  ['created', 'Created'],
  ['updated', 'Updated'],
  ['deleted', 'Deleted'],
  ['failed', 'Failed'],
];
const NUMBER_ROWS = [
  ['unchanged', 'Unchanged'],
  ['conflicts', 'Conflicts settled by the default system'],
];

/** @param {unknown} v */
const isPerSide = (v) =>
  typeof v === 'object' && v !== null && ('initlive' in v || 'salesforce' in v);

/**
 * A run while it goes: phase, a progress bar and the counts so far.
 * @param {any} run
 */
export function runProgress(run) {
  const p = run.progress ?? {};
  const read = sides(p.read);
  const total = typeof p.total === 'number' && p.total > 0 ? p.total : null;
  const done = typeof p.done === 'number' ? p.done : read.initlive + read.salesforce;
  const outstanding =
    p.outstanding && typeof p.outstanding === 'object' ? sides(p.outstanding) : null;
  return [
    h('h3', { id: 'run-title' }, 'Sync in progress ', runBadge(run.status)),
    h('p', null, 'Phase: ', h('strong', { id: 'run-phase' }, humanize(p.phase ?? run.status))),
    h('label', { for: 'run-progress' }, 'Sync progress'),
    h('progress', {
      id: 'run-progress',
      max: total ?? 1,
      ...(total ? { value: Math.min(done, total) } : {}),
      'aria-describedby': 'run-counts',
    }),
    h(
      'p',
      { id: 'run-counts' },
      total ? `${num(done)} of ${num(total)} records read` : `${num(done)} records read`,
      ` (InitLive ${num(read.initlive)}, Salesforce ${num(read.salesforce)})`,
      outstanding && outstanding.initlive + outstanding.salesforce > 0
        ? `; waiting for ${num(outstanding.salesforce)} writes to Salesforce and ${num(outstanding.initlive)} to InitLive`
        : '',
      '.',
    ),
    h('p', { class: 'hint' }, `Started ${ago(run.startedAt)}, ${humanize(run.trigger ?? '')}.`),
  ];
}

/**
 * A finished run: its outcome and its counts per side (unknown counts shown too).
 * @param {any} run
 * @param {string} errorsHref
 */
export function runOutcome(run, errorsHref) {
  const counts = run.counts ?? {};
  const known = new Set([...SIDE_ROWS, ...NUMBER_ROWS].map(([k]) => k));
  const sideRows = [
    ...SIDE_ROWS.filter(([k]) => isPerSide(counts[k])),
    ...Object.keys(counts)
      .filter((k) => !known.has(k) && isPerSide(counts[k]))
      .map((k) => [k, humanize(k)]),
  ];
  const numberRows = [
    ...NUMBER_ROWS.filter(([k]) => typeof counts[k] === 'number'),
    ...Object.keys(counts)
      .filter((k) => !known.has(k) && typeof counts[k] === 'number')
      .map((k) => [k, humanize(k)]),
  ];
  const failed = sides(counts.failed);
  return [
    h('h3', { id: 'run-title' }, 'Sync finished ', runBadge(run.status)),
    h(
      'p',
      { id: 'run-outcome' },
      `${outcomeText(run.status)} Ended ${when(run.endedAt)}, after ${duration(run.endedAt && run.startedAt ? run.endedAt - run.startedAt : null)}.`,
      run.error ? ` ${run.error}` : '',
    ),
    tableWrap(
      'Counts per side',
      h(
        'table',
        { id: 'run-counts-table' },
        h('caption', null, 'Records per side'),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            h('td'),
            h('th', { scope: 'col', class: 'num' }, 'InitLive'),
            h('th', { scope: 'col', class: 'num' }, 'Salesforce'),
          ),
        ),
        h(
          'tbody',
          null,
          sideRows.map(([k, label]) => {
            const s = sides(counts[k ?? '']);
            return h(
              'tr',
              null,
              h('th', { scope: 'row' }, label),
              h('td', { class: 'num' }, num(s.initlive)),
              h('td', { class: 'num' }, num(s.salesforce)),
            );
          }),
        ),
      ),
    ),
    h(
      'p',
      { class: 'hint' },
      'Read and Failed count records from each system; Created, Updated and Deleted count writes to it.',
    ),
    numberRows.length > 0
      ? h(
          'p',
          null,
          numberRows.map(([k, label], i) => [
            i > 0 ? ' · ' : '',
            `${label}: `,
            h('strong', null, num(counts[k ?? ''])),
          ]),
        )
      : null,
    failed.initlive + failed.salesforce > 0
      ? h('p', null, h('a', { href: errorsHref }, 'See the records that failed'))
      : null,
  ];
}

/** @param {string} status */
function outcomeText(status) {
  if (status === 'succeeded') return 'Every record read is in sync.';
  if (status === 'partially_succeeded') return 'Some records failed; the others are in sync.';
  if (status === 'failed') return 'The run failed.';
  return `${humanize(status)}.`;
}

/**
 * Records written per run (both sides) and failed, over the last runs, as inline SVG.
 * @param {any[]} runs newest first
 */
export function runChart(runs) {
  const shown = runs
    .filter((r) => !isActive(r))
    .slice(0, 20)
    .reverse();
  if (shown.length === 0) return h('p', { class: 'muted' }, 'No finished run yet.');
  const W = 600;
  const H = 180;
  const pad = { left: 44, right: 8, top: 10, bottom: 22 };
  const data = shown.map((r) => {
    const w = writtenBySide(r);
    const f = sides(r.counts?.failed);
    return { run: r, sf: w.salesforce, il: w.initlive, failed: f.initlive + f.salesforce };
  });
  const max = Math.max(1, ...data.map((d) => d.sf + d.il + d.failed));
  const plotW = W - pad.left - pad.right;
  const plotH = H - pad.top - pad.bottom;
  const slot = plotW / data.length;
  const barW = Math.max(4, Math.min(36, slot * 0.7));
  const y = (/** @type {number} */ v) => pad.top + plotH - (v / max) * plotH;
  const total = data.reduce((acc, d) => acc + d.sf + d.il, 0);
  const titleId = 'chart-title';
  const descId = 'chart-desc';
  return h(
    'figure',
    { class: 'chart' },
    svg(
      'svg',
      { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${titleId} ${descId}` },
      svg('title', { id: titleId }, 'Records synced per run'),
      svg(
        'desc',
        { id: descId },
        `The last ${data.length} runs wrote ${total} records in all; the most in one run was ${max}. The run history table below has every figure.`,
      ),
      svg('line', {
        class: 'axis',
        x1: pad.left,
        y1: pad.top + plotH,
        x2: W - pad.right,
        y2: pad.top + plotH,
      }),
      svg('line', { class: 'axis', x1: pad.left, y1: pad.top, x2: pad.left, y2: pad.top + plotH }),
      svg('text', { x: pad.left - 6, y: pad.top + 10, 'text-anchor': 'end' }, num(max)),
      svg('text', { x: pad.left - 6, y: pad.top + plotH, 'text-anchor': 'end' }, '0'),
      svg('text', { x: pad.left, y: H - 6 }, 'older'),
      svg('text', { x: W - pad.right, y: H - 6, 'text-anchor': 'end' }, 'newest'),
      data.map((d, i) => {
        const x = pad.left + i * slot + (slot - barW) / 2;
        let base = 0;
        /** @param {number} v @param {string} cls */
        const seg = (v, cls) => {
          if (v <= 0) return null;
          const rect = svg('rect', {
            class: cls,
            x: x.toFixed(1),
            width: barW.toFixed(1),
            y: y(base + v).toFixed(1),
            height: (y(base) - y(base + v)).toFixed(1),
          });
          base += v;
          return rect;
        };
        return svg(
          'g',
          null,
          svg(
            'title',
            null,
            `${when(d.run.startedAt)}: ${d.sf} written to Salesforce, ${d.il} to InitLive, ${d.failed} failed`,
          ),
          seg(d.sf, 'bar-sf'),
          seg(d.il, 'bar-il'),
          seg(d.failed, 'bar-failed'),
        );
      }),
    ),
    h(
      'figcaption',
      null,
      h(
        'ul',
        { class: 'legend' },
        h('li', null, h('span', { class: 'swatch swatch-sf' }), 'Written to Salesforce'),
        h('li', null, h('span', { class: 'swatch swatch-il' }), 'Written to InitLive'),
        h('li', null, h('span', { class: 'swatch swatch-failed' }), 'Failed'),
      ),
    ),
  );
}

/**
 * The run history: status, trigger, start, duration and counts.
 * @param {any[]} runs newest first
 */
export function runTable(runs) {
  if (runs.length === 0)
    return h('p', { class: 'muted' }, 'No run yet. Press Sync now to run the first one.');
  return tableWrap(
    'Run history table',
    h(
      'table',
      { id: 'run-history' },
      h('caption', { class: 'visually-hidden' }, 'Run history'),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', { scope: 'col' }, 'Status'),
          h('th', { scope: 'col' }, 'Trigger'),
          h('th', { scope: 'col' }, 'Started'),
          h('th', { scope: 'col', class: 'num' }, 'Duration'),
          h('th', { scope: 'col', class: 'num' }, 'Read (InitLive / Salesforce)'),
          h('th', { scope: 'col', class: 'num' }, 'Written (to Salesforce / to InitLive)'),
          h('th', { scope: 'col', class: 'num' }, 'Failed'),
        ),
      ),
      h(
        'tbody',
        null,
        runs.map((r) => {
          const read = sides(r.counts?.read);
          const written = writtenBySide(r);
          const failed = sides(r.counts?.failed);
          return h(
            'tr',
            null,
            h('td', null, runBadge(r.status)),
            h('td', null, humanize(r.trigger ?? '')),
            h('td', null, when(r.startedAt)),
            h(
              'td',
              { class: 'num' },
              isActive(r)
                ? humanize(r.progress?.phase ?? '')
                : duration(r.endedAt && r.startedAt ? r.endedAt - r.startedAt : null),
            ),
            h('td', { class: 'num' }, `${num(read.initlive)} / ${num(read.salesforce)}`),
            h('td', { class: 'num' }, `${num(written.salesforce)} / ${num(written.initlive)}`),
            h('td', { class: 'num' }, num(failed.initlive + failed.salesforce)),
          );
        }),
      ),
    ),
  );
}
