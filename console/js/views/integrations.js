// @ts-check
import { ApiError, api, sfPath } from '../api.js';
import { ago, announce, duration, h, humanize, notice, num, replace, when } from '../dom.js';
import { orgNav, pageHeading, refreshInPlace } from '../view.js';
import {
  connectionBadge,
  directionLabel,
  facts,
  isActive,
  runBadge,
  scheduleText,
  sides,
  tableWrap,
  writtenBySide,
} from './common.js';
import { openDialog } from './dialog.js';

/**
 * The Integrations page: the Salesforce tile with its state at a glance and the next action
 * (Connect, Reconnect, install steps, Edit Settings, Disconnect), the last run, the lag per
 * source and the API budget. Refreshes itself: fast while a run goes, slowly otherwise.
 * @param {import('../view.js').ViewContext} ctx
 */
export async function renderIntegrations(ctx) {
  const orgId = ctx.params.orgId ?? '';
  const messages = h('div');
  const tile = h('section', { class: 'tile', 'aria-labelledby': 'tile-salesforce' });
  /** @type {any} */
  let status = null;

  const oauth = ctx.query.get('oauth');
  if (oauth) {
    history.replaceState(null, '', `#/orgs/${encodeURIComponent(orgId)}`);
    replace(
      messages,
      oauth === 'connected'
        ? notice('ok', 'Salesforce is connected.')
        : oauth === 'package_missing'
          ? notice(
              'warn',
              'Salesforce is connected, but the InitLive package is missing. Install it, then press Reconnect.',
            )
          : notice('info', `Salesforce answered: ${humanize(oauth)}.`),
    );
  }

  const load = async () => {
    try {
      const [s, errors] = await Promise.all([
        api('GET', sfPath(orgId)),
        api('GET', sfPath(orgId, '/errors?limit=1')).catch(() => null),
      ]);
      status = s;
      refreshInPlace(tile, () => tileContent(s, errors?.total ?? null));
    } catch (err) {
      refreshInPlace(tile, () => [
        h('h2', { id: 'tile-salesforce' }, 'Salesforce'),
        notice('error', err instanceof Error ? err.message : String(err)),
      ]);
    }
  };

  /** @param {string} text @param {'ok' | 'error' | 'info' | 'warn'} kind */
  const say = (text, kind) => {
    replace(messages, notice(kind, text));
    if (kind !== 'error') announce(text);
  };

  const connect = async () => {
    const started = await startConnect(orgId, say);
    if (started) location.assign(started);
  };

  const disconnect = async () => {
    const confirmed = await openDialog({
      title: 'Disconnect Salesforce?',
      body: [
        h(
          'p',
          null,
          'The connector stops reading and writing your Salesforce Contacts, and Salesforce revokes its access.',
        ),
        h(
          'p',
          null,
          'This does not uninstall the InitLive package from Salesforce. Settings and links are kept; press Connect to connect again.',
        ),
      ],
      confirmLabel: 'Disconnect',
      danger: true,
    });
    if (!confirmed) return;
    try {
      const res = await api('POST', sfPath(orgId, '/disconnect'));
      say(
        res.revoked === false
          ? 'Salesforce is disconnected. Salesforce could not be reached to revoke the grant; the connector forgot it anyway.'
          : 'Salesforce is disconnected.',
        'ok',
      );
      await load();
      document.getElementById('tile-connect')?.focus();
    } catch (err) {
      say(err instanceof Error ? err.message : String(err), 'error');
    }
  };

  /** @param {any} s @param {number | null} errorCount */
  function tileContent(s, errorCount) {
    const state = String(s.connection);
    const settingsHref = `#/orgs/${encodeURIComponent(orgId)}/salesforce/settings`;
    const errorsHref = `#/orgs/${encodeURIComponent(orgId)}/salesforce/errors`;
    const edit = h(
      'a',
      { class: 'button', href: settingsHref, id: 'tile-edit-settings' },
      'Edit Settings',
    );
    const disconnectButton = h(
      'button',
      { type: 'button', class: 'danger', id: 'tile-disconnect', onclick: disconnect },
      'Disconnect',
    );
    const connectButton = (/** @type {string} */ label) =>
      h(
        'button',
        { type: 'button', class: 'primary', id: 'tile-connect', onclick: connect },
        label,
      );

    /** @type {Array<Node | string>} */
    const next = [];
    /** @type {Node[]} */
    let actions = [];
    if (state === 'connected') {
      next.push(
        `Syncing ${directionLabel(s.settings?.direction)}, streaming ${s.streaming?.enabled ? 'on' : 'off'}. `,
        s.settings?.schedule?.mode === 'manual'
          ? 'Edit Settings to change the sync type or turn on Automatic Syncing.'
          : 'Edit Settings to change how it syncs.',
      );
      actions = [edit, disconnectButton];
    } else if (state === 'needs_reauth') {
      next.push(
        'Salesforce refused the connector’s saved authorization. Reconnect to authorize it again; changes wait until then, nothing is lost.',
      );
      actions = [connectButton('Reconnect'), edit, disconnectButton];
    } else if (state === 'package_missing') {
      next.push(
        'The InitLive package’s fields are missing on Contact in this Salesforce org. ',
        h(
          'a',
          { href: '#/help/package', id: 'tile-install-steps' },
          'Install the InitLive package',
        ),
        ', then press Reconnect to check again. Writes to Salesforce wait until then.',
      );
      actions = [connectButton('Reconnect'), edit, disconnectButton];
    } else {
      next.push(
        'Connect to let the connector read and write Contacts in your Salesforce org. You will sign in to Salesforce and come back here.',
      );
      actions = [connectButton('Connect'), edit];
    }

    const run = s.lastRun;
    const budget = s.apiBudget;
    return [
      h(
        'div',
        { class: 'tile-head' },
        h('h2', { id: 'tile-salesforce' }, 'Salesforce'),
        connectionBadge(state),
      ),
      h('p', null, ...next),
      s.reason && state !== 'connected' ? h('p', { class: 'muted' }, `Reason: ${s.reason}`) : null,
      facts([
        s.instanceUrl ? ['Salesforce org', h('span', { class: 'mono' }, s.instanceUrl)] : null,
        s.connectedAt
          ? ['Connected', `${when(s.connectedAt)} (${s.flow === 'jwt' ? 'JWT bearer' : 'OAuth'})`]
          : null,
        ['Sync type', directionLabel(s.settings?.direction)],
        ['Automatic Syncing', scheduleText(s.settings?.schedule)],
        [
          'Streaming',
          s.streaming?.enabled ? (s.streaming.active ? 'On' : 'On (waiting to start)') : 'Off',
        ],
        ['Last run', lastRunText(run)],
        [
          'Errors',
          errorCount === null
            ? '–'
            : errorCount === 0
              ? 'None'
              : h(
                  'a',
                  { href: errorsHref },
                  `${num(errorCount)} ${errorCount === 1 ? 'record needs' : 'records need'} attention`,
                ),
        ],
      ]),
      h('h3', null, 'Lag per source'),
      lagTable(s.sources ?? []),
      h('h3', { id: 'budget-label' }, 'Salesforce API budget'),
      budgetBar(budget),
      h('div', { class: 'actions' }, ...actions),
    ];
  }

  replace(
    ctx.main,
    ...orgNav(orgId, 'integrations'),
    pageHeading('Integrations'),
    messages,
    h('div', { class: 'tiles' }, tile),
  );
  await load();
  ctx.poll(load, () => isActive(status?.lastRun));
}

/** @param {any} run */
function lastRunText(run) {
  if (!run) return 'None yet';
  const written = writtenBySide(run);
  const read = sides(run.counts?.read);
  const parts = [
    runBadge(run.status),
    ' ',
    `${humanize(run.trigger ?? '')}, ${ago(run.startedAt)}`,
  ];
  if (isActive(run)) parts.push(` · ${humanize(run.progress?.phase ?? 'running')}`);
  else
    parts.push(
      ` · ${duration(run.endedAt && run.startedAt ? run.endedAt - run.startedAt : null)}`,
      ` · read ${num(read.initlive)} + ${num(read.salesforce)}, wrote ${num(written.salesforce)} to Salesforce and ${num(written.initlive)} to InitLive`,
    );
  return h('span', null, ...parts);
}

/** @param {any[]} sources */
function lagTable(sources) {
  if (sources.length === 0)
    return h('p', { class: 'muted' }, 'No source is running in this process.');
  return tableWrap(
    'Lag per source',
    h(
      'table',
      null,
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', { scope: 'col' }, 'Source'),
          h('th', { scope: 'col' }, 'State'),
          h('th', { scope: 'col', class: 'num' }, 'Waiting'),
          h('th', { scope: 'col' }, 'Last change'),
        ),
      ),
      h(
        'tbody',
        null,
        sources.map((src) =>
          h(
            'tr',
            null,
            h(
              'th',
              { scope: 'row' },
              src.source === 'initlive'
                ? 'InitLive'
                : src.source === 'salesforce'
                  ? 'Salesforce'
                  : String(src.source),
            ),
            h(
              'td',
              null,
              humanize(src.state ?? ''),
              src.lastError ? h('span', { class: 'muted' }, ` (${src.lastError})`) : null,
            ),
            h(
              'td',
              { class: 'num' },
              src.lag === null || src.lag === undefined ? '–' : `${num(src.lag)} records`,
            ),
            h('td', null, ago(src.lastEventAt)),
          ),
        ),
      ),
    ),
  );
}

/** @param {any} budget */
function budgetBar(budget) {
  if (!budget || typeof budget.max !== 'number' || budget.max <= 0)
    return h('p', { class: 'muted' }, 'No Salesforce API use reported yet.');
  const used = Math.max(0, Math.min(budget.used ?? 0, budget.max));
  return h(
    'div',
    null,
    h('meter', {
      'aria-labelledby': 'budget-label',
      'aria-describedby': 'budget-text',
      min: 0,
      max: budget.max,
      low: Math.round(budget.max * 0.7),
      high: Math.round(budget.max * 0.9),
      optimum: 0,
      value: used,
    }),
    h(
      'p',
      { id: 'budget-text', class: 'hint' },
      `${num(budget.used)} of ${num(budget.max)} calls used in the last 24 hours; ${num(budget.remaining)} left`,
      budget.reportedAt ? ` (as of ${ago(budget.reportedAt)})` : '',
      '.',
    ),
  );
}

/**
 * Starts the OAuth flow and returns the Salesforce URL to open, or null. An organization the
 * connector has no InitLive credentials for gets them asked first (the API names the field).
 * @param {string} orgId
 * @param {(text: string, kind: 'ok' | 'error' | 'info' | 'warn') => void} say
 * @returns {Promise<string | null>}
 */
async function startConnect(orgId, say) {
  try {
    const res = await api('POST', sfPath(orgId, '/connect'), {});
    return res.authorizeUrl;
  } catch (err) {
    if (!(err instanceof ApiError && err.fields.some((f) => f.path === 'initlive'))) {
      say(err instanceof Error ? err.message : String(err), 'error');
      return null;
    }
  }
  for (;;) {
    const values = await openDialog({
      title: 'Connect InitLive first',
      body: [
        h(
          'p',
          null,
          `The connector has no InitLive credentials for ${orgId}. Enter the organization’s InitLive API address and integration key; the key is stored sealed and never shown again.`,
        ),
      ],
      fields: [
        h(
          'div',
          { class: 'field' },
          h('label', { for: 'il-base' }, 'InitLive API address'),
          h('input', {
            id: 'il-base',
            name: 'baseUrl',
            type: 'url',
            autocomplete: 'off',
            placeholder: 'https://api.initlive.com',
          }),
        ),
        h(
          'div',
          { class: 'field' },
          h('label', { for: 'il-key' }, 'InitLive integration key'),
          h('input', { id: 'il-key', name: 'apiKey', type: 'password', autocomplete: 'off' }),
        ),
      ],
      confirmLabel: 'Continue to Salesforce',
    });
    if (!values) return null;
    try {
      const res = await api('POST', sfPath(orgId, '/connect'), {
        initlive: {
          baseUrl: String(values.get('baseUrl') ?? '').trim(),
          apiKey: String(values.get('apiKey') ?? ''),
        },
      });
      return res.authorizeUrl;
    } catch (err) {
      const text =
        err instanceof ApiError && err.fields.length > 0
          ? err.fields.map((f) => `${f.path.replace(/^initlive\./, '')} ${f.message}`).join('; ')
          : err instanceof Error
            ? err.message
            : String(err);
      say(`InitLive credentials refused: ${text}`, 'error');
      if (!(err instanceof ApiError && err.status === 400)) return null;
    }
  }
}
