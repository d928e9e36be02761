// @ts-check
import { h, replace } from '../dom.js';
import { pageHeading } from '../view.js';

/**
 * Install steps for the InitLive package (the custom Contact fields the connector writes),
 * for the tile's "package missing" state. The same steps as docs/salesforce-setup.md.
 * @param {import('../view.js').ViewContext} ctx
 */
export function renderPackageHelp(ctx) {
  const row = (/** @type {string[]} */ cells) =>
    h(
      'tr',
      null,
      cells.map((c, i) =>
        i === 0
          ? h('th', { scope: 'row' }, c)
          : h('td', null, h('span', { class: i === 1 ? 'mono' : '' }, c)),
      ),
    );
  replace(
    ctx.main,
    h(
      'nav',
      { class: 'breadcrumbs', 'aria-label': 'Breadcrumb' },
      h(
        'ol',
        null,
        h('li', null, h('a', { href: '#/orgs' }, 'Organizations')),
        h('li', null, 'Install the InitLive package'),
      ),
    ),
    pageHeading('Install the InitLive package'),
    h(
      'p',
      null,
      'The connector keeps each volunteer’s InitLive id and a few InitLive fields on the Salesforce Contact. Those fields come with the InitLive package. Until they exist, writes to Salesforce wait; nothing is lost.',
    ),
    h(
      'ol',
      null,
      h(
        'li',
        null,
        'Deploy the package from the connector’s salesforce/ folder with the Salesforce CLI (sf project deploy start --source-dir force-app), or install the package version you were given, as an administrator.',
      ),
      h(
        'li',
        null,
        'Assign the InitLive Sync Integration permission set to the connector’s user (sf org assign permset --name InitLive_Sync_Integration).',
      ),
      h(
        'li',
        null,
        'Or create the fields yourself: Setup › Object Manager › Contact › Fields & Relationships, with read and edit access for the connector’s user.',
      ),
      h(
        'li',
        null,
        'Come back to the organization’s Integrations page and press Reconnect: the connector checks the fields again.',
      ),
    ),
    h(
      'div',
      { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Package fields' },
      h(
        'table',
        null,
        h('caption', null, 'Fields on Contact'),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            h('th', { scope: 'col' }, 'Field label'),
            h('th', { scope: 'col' }, 'API name'),
            h('th', { scope: 'col' }, 'Type'),
          ),
        ),
        h(
          'tbody',
          null,
          row(['InitLive Staff Id', 'InitLive_Staff_Id__c', 'Text(64), External ID, Unique']),
          row(['InitLive Tags', 'InitLive_Tags__c', 'Long Text Area']),
          row(['InitLive Status', 'InitLive_Status__c', 'Picklist: active, archived, deleted']),
          row(['InitLive Hours Worked', 'InitLive_Hours_Worked__c', 'Number(16, 2)']),
        ),
      ),
    ),
    h('p', null, h('a', { class: 'button', href: '#/orgs' }, 'Back to organizations')),
  );
}
