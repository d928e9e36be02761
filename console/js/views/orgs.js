// @ts-check
import { api } from '../api.js';
import { h, notice, replace } from '../dom.js';
import { pageHeading, refreshInPlace } from '../view.js';
import { connectionBadge, directionText } from './common.js';

const ORG_ID = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * The deployment's organizations (GET /api/orgs) with their connection state, and a way to
 * open one the connector does not know yet (to connect it for the first time).
 * @param {import('../view.js').ViewContext} ctx
 */
export async function renderOrgs(ctx) {
  const list = h('div');
  const load = async () => {
    try {
      const { orgs } = await api('GET', '/api/orgs');
      refreshInPlace(list, () => [
        orgs.length === 0
          ? h(
              'p',
              null,
              'No organization is connected yet. Open one below to connect it to Salesforce.',
            )
          : h(
              'ul',
              { class: 'plain-list' },
              orgs.map((/** @type {any} */ o) =>
                h(
                  'li',
                  { class: 'item' },
                  h('h2', null, h('a', { href: `#/orgs/${encodeURIComponent(o.orgId)}` }, o.orgId)),
                  h(
                    'p',
                    null,
                    'Salesforce: ',
                    connectionBadge(o.connection),
                    ' ',
                    h(
                      'span',
                      { class: 'muted' },
                      `${directionText(o.direction)}, streaming ${o.streaming ? 'on' : 'off'}`,
                    ),
                  ),
                ),
              ),
            ),
      ]);
    } catch (err) {
      refreshInPlace(list, () => [
        notice('error', err instanceof Error ? err.message : String(err)),
      ]);
    }
  };

  const input = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'open-org',
      type: 'text',
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-describedby': 'open-org-hint',
    })
  );
  const error = h('p', { id: 'open-org-error', class: 'field-error', hidden: true });
  const form = h(
    'form',
    { novalidate: true, class: 'card' },
    h('h2', null, 'Open an organization'),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'open-org' }, 'Organization id'),
      h(
        'p',
        { id: 'open-org-hint', class: 'hint' },
        'The InitLive organization id, e.g. org_demo.',
      ),
      input,
      error,
    ),
    h('button', { type: 'submit' }, 'Open'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = input.value.trim();
    if (!ORG_ID.test(id)) {
      error.textContent = 'Use 1 to 100 letters, digits, dots, underscores or hyphens.';
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', 'open-org-hint open-org-error');
      input.focus();
      return;
    }
    location.hash = `#/orgs/${encodeURIComponent(id)}`;
  });

  replace(ctx.main, pageHeading('Organizations'), list, form);
  await load();
  ctx.poll(load, () => false);
}
