// @ts-check
import { ApiError, api, sfPath } from '../api.js';
import { h, humanize, notice, replace, when } from '../dom.js';
import { orgNav, pageHeading } from '../view.js';
import { facts, tableWrap } from './common.js';

const RECORD_STATE = {
  in_sync: ['In sync', 'badge-ok'],
  pending: ['Waiting to sync', 'badge-info'],
  failed: ['Failed', 'badge-bad'],
  not_linked: ['Not linked', 'badge-warn'],
};

/** What kind of key the admin typed. @param {string} q */
export function lookupParam(q) {
  if (q.includes('@')) return ['email', 'email'];
  // Salesforce record ids: 15 or 18 letters and digits; Contacts start with 003.
  if (/^003[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$/.test(q)) return ['salesforceId', 'Salesforce id'];
  return ['initliveId', 'InitLive id'];
}

/**
 * Volunteer lookup: by email or id, the record's sync status and history.
 * @param {import('../view.js').ViewContext} ctx
 */
export async function renderVolunteers(ctx) {
  const orgId = ctx.params.orgId ?? '';
  const result = h('div', { id: 'lookup-result' });
  const input = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'lookup-q',
      type: 'search',
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-describedby': 'lookup-hint',
      value: ctx.query.get('q') ?? '',
    })
  );
  const form = h(
    'form',
    { class: 'card', novalidate: true, role: 'search', 'aria-label': 'Volunteer lookup' },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'lookup-q' }, 'Email or id'),
      h(
        'p',
        { id: 'lookup-hint', class: 'hint' },
        'An email address, an InitLive staff id or a Salesforce Contact id.',
      ),
      input,
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Look up'),
  );

  const search = async () => {
    const q = input.value.trim();
    if (q === '') {
      replace(result, notice('error', 'Enter an email address or an id.'));
      input.focus();
      return;
    }
    const [param, kind] = lookupParam(q);
    replace(result, h('p', { class: 'loading', role: 'status' }, 'Looking up…'));
    try {
      const record = await api('GET', sfPath(orgId, `/records?${param}=${encodeURIComponent(q)}`));
      replace(
        result,
        ...recordView(record, kind, `#/orgs/${encodeURIComponent(orgId)}/salesforce/errors`),
      );
    } catch (err) {
      if (err instanceof ApiError && err.noSuchRoute) {
        replace(
          result,
          notice(
            'info',
            'Volunteer lookup is not available on this connector version. The Errors page lists the records that could not be synced.',
          ),
        );
      } else if (err instanceof ApiError && err.status === 404) {
        replace(
          result,
          notice(
            'info',
            `Neither InitLive nor Salesforce has a volunteer with that ${kind} known to the connector.`,
          ),
        );
      } else {
        replace(result, notice('error', err instanceof Error ? err.message : String(err)));
      }
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void search();
  });

  replace(ctx.main, ...orgNav(orgId, 'volunteers'), pageHeading('Volunteer lookup'), form, result);
  if (input.value) await search();
}

/** @param {any} r @param {string} kind @param {string} errorsHref */
function recordView(r, kind, errorsHref) {
  const [label, cls] = /** @type {Record<string, string[]>} */ (RECORD_STATE)[r.state] ?? [
    humanize(r.state ?? 'unknown'),
    '',
  ];
  const err = r.lastError;
  const historyRows = Array.isArray(r.history) ? r.history : [];
  return [
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'record-title' },
      h(
        'h2',
        { id: 'record-title' },
        r.email ?? r.initliveId ?? r.salesforceId ?? 'Volunteer',
        ' ',
        h('span', { class: `badge ${cls}` }, label),
      ),
      r.reason ? h('p', null, r.reason) : null,
      facts([
        ['Found by', kind],
        ['InitLive id', r.initliveId ? h('span', { class: 'mono' }, r.initliveId) : 'None'],
        ['Salesforce id', r.salesforceId ? h('span', { class: 'mono' }, r.salesforceId) : 'None'],
        ['Email', r.email ?? '–'],
        ['Linked by', r.linkedBy ? humanize(r.linkedBy) : '–'],
        ['Last synced', when(r.lastSyncedAt)],
        err
          ? [
              'Last error',
              h(
                'span',
                null,
                h('span', { class: 'mono' }, err.code),
                ` ${err.message} (${when(err.at)})`,
                err.deadLetterId ? [' ', h('a', { href: errorsHref }, 'See the errors')] : null,
              ),
            ]
          : null,
      ]),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'record-history' },
      h('h2', { id: 'record-history' }, 'History'),
      historyRows.length === 0
        ? h('p', { class: 'muted' }, 'No history kept for this record yet.')
        : tableWrap(
            'Record history',
            h(
              'table',
              null,
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  ['When', 'Event', 'Side', 'Fields', 'Run'].map((c) =>
                    h('th', { scope: 'col' }, c),
                  ),
                ),
              ),
              h(
                'tbody',
                null,
                historyRows.map((e) =>
                  h(
                    'tr',
                    null,
                    h('td', null, when(e.at)),
                    h('td', null, humanize(e.event ?? '')),
                    h(
                      'td',
                      null,
                      e.side === 'initlive'
                        ? 'InitLive'
                        : e.side === 'salesforce'
                          ? 'Salesforce'
                          : (e.side ?? '–'),
                    ),
                    h(
                      'td',
                      null,
                      Array.isArray(e.fields) && e.fields.length > 0 ? e.fields.join(', ') : '–',
                    ),
                    h('td', { class: 'mono' }, e.runId ?? '–'),
                  ),
                ),
              ),
            ),
          ),
    ),
  ];
}
