// @ts-check
import { api, sfPath } from '../api.js';
import { announce, h, notice, replace, when } from '../dom.js';
import { orgNav, pageHeading, refreshInPlace } from '../view.js';
import { openDialog } from './dialog.js';

const PAGE = 50;

/**
 * Who a dead letter concerns, from the ids the API gives and the record itself.
 * @param {any} item
 */
export function volunteerOf(item) {
  const r = item.record && typeof item.record === 'object' ? item.record : {};
  const values = r.values ?? {};
  const fields = r.fields ?? {};
  const str = (/** @type {unknown} */ v) => (typeof v === 'string' && v !== '' ? v : null);
  const initliveId =
    str(item.initliveId) ??
    str(r.initliveId) ??
    str(r.externalId) ??
    str(fields.InitLive_Staff_Id__c);
  const salesforceId = str(item.salesforceId) ?? str(r.salesforceId);
  const first = str(values.firstName) ?? str(fields.FirstName);
  const last = str(values.lastName) ?? str(fields.LastName);
  const name = [first, last].filter(Boolean).join(' ') || null;
  const email = str(values.email) ?? str(fields.Email);
  return { initliveId, salesforceId, name, email };
}

/**
 * The errors list: records the pipeline could not sync (dead letters) with their reason, time,
 * attempts and the volunteer each concerns; Retry and Dismiss one at a time or all at once.
 * @param {import('../view.js').ViewContext} ctx
 */
export async function renderErrors(ctx) {
  const orgId = ctx.params.orgId ?? '';
  const messages = h('div');
  const listArea = h('div');
  /** @type {any[]} */
  let items = [];
  let total = 0;
  let limit = PAGE;

  /** @param {string} text @param {'ok' | 'error' | 'info' | 'warn'} kind */
  const say = (text, kind) => {
    replace(messages, notice(kind, text));
    if (kind !== 'error') announce(text);
  };
  const fail = (/** @type {unknown} */ err) =>
    say(err instanceof Error ? err.message : String(err), 'error');
  const focusHeading = () => document.getElementById('errors-count')?.focus();

  const load = async () => {
    try {
      const page = await api('GET', sfPath(orgId, `/errors?limit=${limit}`));
      items = page.items ?? [];
      total = page.total ?? items.length;
      refreshInPlace(listArea, () =>
        list(page.nextOffset !== null && page.nextOffset !== undefined),
      );
    } catch (err) {
      refreshInPlace(listArea, () => [
        notice('error', err instanceof Error ? err.message : String(err)),
      ]);
    }
  };

  const retry = async (/** @type {any} */ item) => {
    try {
      const res = await api('POST', sfPath(orgId, `/errors/${encodeURIComponent(item.id)}/retry`));
      say(
        `Sent back for retry (attempt ${res.attempt}). If it fails again, it comes back to this list.`,
        'ok',
      );
      await load();
      focusHeading();
    } catch (err) {
      fail(err);
    }
  };

  const dismiss = async (/** @type {any} */ item) => {
    try {
      await api('DELETE', sfPath(orgId, `/errors/${encodeURIComponent(item.id)}`));
      say('Dismissed. The record stays as it is in both systems.', 'ok');
      await load();
      focusHeading();
    } catch (err) {
      fail(err);
    }
  };

  const retryAll = async () => {
    try {
      const res = await api('POST', sfPath(orgId, '/errors/retry'), {});
      const failed = res.failed ?? [];
      say(
        `Sent ${res.retried?.length ?? 0} back for retry.` +
          (failed.length > 0
            ? ` ${failed.length} could not be retried: ${failed.map((/** @type {any} */ f) => f.reason).join('; ')}`
            : ''),
        failed.length > 0 ? 'warn' : 'ok',
      );
      await load();
      focusHeading();
    } catch (err) {
      fail(err);
    }
  };

  const dismissAll = async () => {
    const ok = await openDialog({
      title: total === 1 ? 'Dismiss the 1 error?' : `Dismiss all ${total} errors?`,
      body: [
        h(
          'p',
          null,
          'The records are not retried and leave this list. Nothing changes in InitLive or Salesforce.',
        ),
      ],
      confirmLabel: 'Dismiss all',
      danger: true,
    });
    if (!ok) return;
    let dismissed = 0;
    try {
      // The API dismisses one at a time: take pages until none is left.
      for (;;) {
        const page = await api('GET', sfPath(orgId, '/errors?limit=500'));
        if (!page.items || page.items.length === 0) break;
        for (const item of page.items) {
          await api('DELETE', sfPath(orgId, `/errors/${encodeURIComponent(item.id)}`));
          dismissed += 1;
        }
      }
      say(`Dismissed ${dismissed}.`, 'ok');
    } catch (err) {
      fail(err);
    }
    await load();
    focusHeading();
  };

  /** @param {boolean} more */
  function list(more) {
    const lookup = (/** @type {string} */ q) =>
      `#/orgs/${encodeURIComponent(orgId)}/salesforce/volunteers?q=${encodeURIComponent(q)}`;
    return [
      h(
        'h2',
        { id: 'errors-count', tabindex: '-1' },
        total === 0
          ? 'No errors'
          : `${total} ${total === 1 ? 'record' : 'records'} could not be synced`,
      ),
      total === 0
        ? h('p', null, 'Every record the connector read has been synced, or is on its way.')
        : h(
            'div',
            { class: 'actions' },
            h('button', { type: 'button', id: 'retry-all', onclick: retryAll }, 'Retry all'),
            h(
              'button',
              { type: 'button', id: 'dismiss-all', class: 'danger', onclick: dismissAll },
              'Dismiss all',
            ),
          ),
      h(
        'ul',
        { class: 'plain-list', id: 'errors-list' },
        items.map((item, i) => {
          const v = volunteerOf(item);
          const who = v.name ?? v.email ?? v.initliveId ?? v.salesforceId ?? 'Unknown volunteer';
          const lookupKey = v.initliveId ?? v.salesforceId ?? v.email;
          return h(
            'li',
            { class: 'item', 'aria-labelledby': `error-${i}-title` },
            h('h3', { id: `error-${i}-title` }, who),
            h('p', null, h('strong', null, 'Reason: '), item.reason),
            h(
              'dl',
              { class: 'facts' },
              h('dt', null, 'Error'),
              h(
                'dd',
                null,
                h('span', { class: 'mono' }, item.code),
                item.upstreamCode ? h('span', { class: 'mono' }, ` (${item.upstreamCode})`) : null,
              ),
              h('dt', null, 'When'),
              h('dd', null, when(item.time)),
              h('dt', null, 'Attempts'),
              h('dd', null, String(item.attempts)),
              h('dt', null, 'Volunteer'),
              h(
                'dd',
                null,
                [
                  v.email && v.name ? v.email : null,
                  v.initliveId ? `InitLive ${v.initliveId}` : null,
                  v.salesforceId ? `Salesforce ${v.salesforceId}` : null,
                ]
                  .filter(Boolean)
                  .join(' · ') || '–',
                lookupKey ? [' ', h('a', { href: lookup(lookupKey) }, 'Look up')] : null,
              ),
            ),
            item.record || item.recordBase64
              ? h(
                  'details',
                  null,
                  h('summary', null, 'Record'),
                  h(
                    'pre',
                    { class: 'mono', tabindex: '0' },
                    item.record
                      ? JSON.stringify(item.record, null, 2)
                      : `(undecodable) ${item.recordBase64}`,
                  ),
                )
              : null,
            h(
              'div',
              { class: 'actions' },
              h(
                'button',
                { type: 'button', id: `retry-${i}`, onclick: () => retry(item) },
                'Retry',
              ),
              h(
                'button',
                {
                  type: 'button',
                  id: `dismiss-${i}`,
                  class: 'danger',
                  onclick: () => dismiss(item),
                },
                'Dismiss',
              ),
            ),
          );
        }),
      ),
      more
        ? h(
            'button',
            {
              type: 'button',
              id: 'show-more',
              onclick: async () => {
                limit += PAGE;
                await load();
              },
            },
            'Show more',
          )
        : null,
    ];
  }

  replace(ctx.main, ...orgNav(orgId, 'errors'), pageHeading('Errors'), messages, listArea);
  await load();
  ctx.poll(load, () => false);
}
