// @ts-check
import { ApiError, api, sfPath } from '../api.js';
import { announce, h, notice, replace } from '../dom.js';
import { orgNav, pageHeading, refreshInPlace } from '../view.js';
import { connectionBadge, isActive, SYNC_TYPES } from './common.js';
import { runChart, runOutcome, runProgress, runTable } from './runs.js';

const DELETE_POLICIES = [
  [
    'archive',
    'Archive',
    'When a volunteer is deleted on one side, the other side’s record is marked archived, not deleted.',
  ],
  [
    'propagate',
    'Delete',
    'When a volunteer is deleted on one side, the other side’s record is deleted too.',
  ],
  ['ignore', 'Keep', 'Deletes are not synced; the other side’s record stays as it is.'],
];

/** The browser's time zone, the zone picker's default. */
function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** @param {string[]} extra */
function zones(extra) {
  /** @type {string[]} */
  let list = [];
  try {
    list = /** @type {any} */ (Intl).supportedValuesOf('timeZone');
  } catch {
    list = [];
  }
  return [...new Set([...list, 'UTC', ...extra.filter(Boolean)])].sort();
}

/**
 * The Salesforce Integration Settings page: Sync now at the top with a live progress bar and
 * the outcome, the settings form (sync type, default system, Automatic Syncing, streaming,
 * delete policy) whose Save shows the API's errors next to the fields they name, and the run
 * history with its chart.
 * @param {import('../view.js').ViewContext} ctx
 */
export async function renderSettings(ctx) {
  const orgId = ctx.params.orgId ?? '';
  const errorsHref = `#/orgs/${encodeURIComponent(orgId)}/salesforce/errors`;
  const [settings, status] = await Promise.all([
    api('GET', sfPath(orgId, '/settings')),
    api('GET', sfPath(orgId)),
  ]);

  // ---- Sync now -------------------------------------------------------------------------
  const syncMessages = h('div');
  const runPanel = h('section', {
    class: 'run-panel',
    'aria-labelledby': 'run-title',
    hidden: true,
  });
  const history = h('div');
  /** @type {string | null} */
  let watching = null;
  /** @type {any} */
  let watched = null;
  /** @type {any[]} */
  let runs = [];

  const showRun = (/** @type {any} */ run) => {
    watched = run;
    runPanel.hidden = false;
    refreshInPlace(runPanel, () =>
      isActive(run) ? runProgress(run) : runOutcome(run, errorsHref),
    );
  };

  const loadHistory = async () => {
    try {
      const res = await api('GET', sfPath(orgId, '/runs?limit=20'));
      runs = res.runs ?? [];
      refreshInPlace(history, () => [runChart(runs), runTable(runs)]);
      const newest = runs[0];
      // A run someone else started (another admin, the schedule) is shown as it goes.
      if (newest && isActive(newest) && watching !== newest.runId) {
        watching = newest.runId;
        showRun(newest);
      }
    } catch (err) {
      refreshInPlace(history, () => [
        notice('error', err instanceof Error ? err.message : String(err)),
      ]);
    }
  };

  const tick = async () => {
    if (watching && isActive(watched)) {
      try {
        const run = await api('GET', sfPath(orgId, `/runs/${encodeURIComponent(watching)}`));
        showRun(run);
        if (!isActive(run)) {
          announce(`Sync finished: ${run.status.replace('_', ' ')}.`);
          await loadHistory();
        }
      } catch (err) {
        replace(syncMessages, notice('error', err instanceof Error ? err.message : String(err)));
      }
      return;
    }
    await loadHistory();
  };

  const syncButton = /** @type {HTMLButtonElement} */ (
    h('button', { type: 'button', class: 'primary', id: 'sync-now' }, 'Sync now')
  );
  syncButton.addEventListener('click', async () => {
    replace(syncMessages);
    syncButton.disabled = true;
    try {
      const { runId } = await api('POST', sfPath(orgId, '/sync'));
      watching = runId;
      announce('Sync started.');
      showRun({
        runId,
        status: 'queued',
        trigger: 'manual',
        startedAt: null,
        progress: { phase: 'queued', read: {}, done: 0, total: null },
      });
      await tick();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && typeof err.details.runId === 'string') {
        replace(
          syncMessages,
          notice(
            'info',
            'A run is in progress. Its progress is shown below; press Sync now again once it has finished.',
          ),
        );
        watching = err.details.runId;
        watched = { status: 'running' };
        await tick();
      } else {
        replace(syncMessages, notice('error', err instanceof Error ? err.message : String(err)));
      }
    } finally {
      syncButton.disabled = false;
    }
  });

  // ---- Settings form --------------------------------------------------------------------
  const form = settingsForm(orgId, settings);

  replace(
    ctx.main,
    ...orgNav(orgId, 'settings'),
    pageHeading('Salesforce Integration Settings'),
    h(
      'p',
      null,
      'Salesforce: ',
      connectionBadge(status.connection),
      status.instanceUrl ? h('span', { class: 'muted mono' }, ` ${status.instanceUrl}`) : null,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'sync-now-title' },
      h('h2', { id: 'sync-now-title' }, 'Sync now'),
      h(
        'p',
        null,
        'Runs a full sync at once: reads both systems, links the records they share and brings every difference across, following the settings below.',
      ),
      syncButton,
      syncMessages,
      runPanel,
    ),
    form,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'history-title' },
      h('h2', { id: 'history-title' }, 'Run history'),
      history,
    ),
  );
  await loadHistory();
  ctx.poll(tick, () => isActive(watched) || isActive(runs[0]));
}

/**
 * @param {string} orgId
 * @param {any} initial the settings as the API answered them
 */
function settingsForm(orgId, initial) {
  let current = initial;
  const summary = h('div');
  const saved = h('div');
  const schedule = current.schedule ?? { mode: 'manual' };
  const zone = schedule.mode === 'daily' ? schedule.timezone : browserZone();

  /** @param {string} name @param {string} value @param {string} label @param {string | null} help @param {boolean} checked */
  const radio = (name, value, label, help, checked) => {
    const id = `${name}-${value}`;
    return h(
      'div',
      { class: 'choice' },
      h('input', {
        type: 'radio',
        id,
        name,
        value,
        checked,
        ...(help ? { 'aria-describedby': `${id}-help` } : {}),
      }),
      h('label', { for: id }, label),
      help ? h('p', { id: `${id}-help`, class: 'hint' }, help) : null,
    );
  };

  const direction = h(
    'fieldset',
    { id: 'fieldset-direction' },
    h('legend', null, 'Sync type'),
    SYNC_TYPES.map((t) =>
      radio('direction', t.value, t.label, t.help, current.direction === t.value),
    ),
  );
  const defaultSystem = h(
    'fieldset',
    { id: 'fieldset-defaultSystem', class: 'subsection' },
    h('legend', null, 'Default system'),
    h('p', { class: 'hint' }, 'Wins when both systems changed the same field before a sync.'),
    radio('defaultSystem', 'initlive', 'InitLive', null, current.defaultSystem !== 'salesforce'),
    radio(
      'defaultSystem',
      'salesforce',
      'Salesforce',
      null,
      current.defaultSystem === 'salesforce',
    ),
  );

  const auto = /** @type {HTMLInputElement} */ (
    h('input', {
      type: 'checkbox',
      role: 'switch',
      id: 'auto-sync',
      checked: schedule.mode !== 'manual',
      'aria-describedby': 'auto-sync-help',
    })
  );
  const everyMinutes = h('input', {
    type: 'number',
    id: 'every-minutes',
    name: 'everyMinutes',
    inputmode: 'numeric',
    min: '5',
    max: '1440',
    step: '1',
    value: schedule.mode === 'interval' ? String(schedule.everyMinutes) : '60',
    'aria-describedby': 'every-minutes-help',
  });
  const dailyAt = h('input', {
    type: 'time',
    id: 'daily-at',
    name: 'at',
    value: schedule.mode === 'daily' ? schedule.at : '02:00',
  });
  const tz = h(
    'select',
    { id: 'daily-tz', name: 'timezone' },
    zones([zone, browserZone()]).map((z) => h('option', { value: z, selected: z === zone }, z)),
  );
  const intervalFields = h(
    'div',
    { class: 'subsection', id: 'interval-fields' },
    h('label', { for: 'every-minutes' }, 'Minutes between syncs'),
    h('p', { id: 'every-minutes-help', class: 'hint' }, 'From 5 to 1440 (a day).'),
    everyMinutes,
  );
  const dailyFields = h(
    'div',
    { class: 'subsection inline-fields', id: 'daily-fields' },
    h('div', null, h('label', { for: 'daily-at' }, 'Time of day'), dailyAt),
    h('div', null, h('label', { for: 'daily-tz' }, 'Time zone'), tz),
  );
  const frequency = h(
    'fieldset',
    { id: 'fieldset-frequency', class: 'subsection' },
    h('legend', null, 'Frequency'),
    radio('frequency', 'interval', 'Every X minutes', null, schedule.mode !== 'daily'),
    intervalFields,
    radio('frequency', 'daily', 'Every day at a specific time', null, schedule.mode === 'daily'),
    dailyFields,
  );
  const automatic = h(
    'fieldset',
    { id: 'fieldset-schedule' },
    h('legend', null, 'How to sync'),
    h(
      'p',
      { class: 'hint' },
      'Manual: a sync runs when you press Sync now. Automatic: it also runs on a regular cadence.',
    ),
    h('div', { class: 'switch' }, auto, h('label', { for: 'auto-sync' }, 'Automatic Syncing')),
    h(
      'p',
      { id: 'auto-sync-help', class: 'hint' },
      'Run a full sync every X minutes, or every day at a specific time.',
    ),
    frequency,
  );

  const streaming = h('input', {
    type: 'checkbox',
    role: 'switch',
    id: 'streaming',
    checked: current.streaming !== false,
    'aria-describedby': 'streaming-help',
  });
  const streamingSet = h(
    'fieldset',
    { id: 'fieldset-streaming' },
    h('legend', null, 'Live changes'),
    h('div', { class: 'switch' }, streaming, h('label', { for: 'streaming' }, 'Streaming')),
    h(
      'p',
      { id: 'streaming-help', class: 'hint' },
      'On: each change is synced within seconds, besides the runs. Off: changes wait for the next run.',
    ),
  );

  const deletes = h(
    'fieldset',
    { id: 'fieldset-deletePolicy' },
    h('legend', null, 'Deleted volunteers'),
    DELETE_POLICIES.map(([value, label, help]) =>
      radio('deletePolicy', value ?? '', label ?? '', help ?? null, current.deletePolicy === value),
    ),
  );

  const mappingCount = Array.isArray(current.fieldMapping) ? current.fieldMapping.length : 0;
  const mapping = h(
    'fieldset',
    { id: 'fieldset-fieldMapping' },
    h('legend', null, 'Field mapping'),
    h(
      'p',
      { class: 'hint' },
      mappingCount === 0
        ? 'Every field follows the sync type (the standard mapping).'
        : `${mappingCount} field ${mappingCount === 1 ? 'rule changes' : 'rules change'} the standard mapping; Save keeps them. They are edited through the API (docs/http-api.md).`,
    ),
  );

  const saveButton = /** @type {HTMLButtonElement} */ (
    h('button', { type: 'submit', class: 'primary', id: 'save-settings' }, 'Save')
  );
  const formEl = /** @type {HTMLFormElement} */ (
    h(
      'form',
      { class: 'card', novalidate: true, 'aria-labelledby': 'settings-title', id: 'settings-form' },
      h('h2', { id: 'settings-title' }, 'Sync settings'),
      summary,
      direction,
      defaultSystem,
      automatic,
      streamingSet,
      deletes,
      mapping,
      saved,
      h(
        'div',
        { class: 'actions' },
        saveButton,
        h('a', { href: `#/orgs/${encodeURIComponent(orgId)}` }, 'Back to Integrations'),
      ),
    )
  );

  const value = (/** @type {string} */ name) =>
    /** @type {HTMLInputElement | null} */ (formEl.querySelector(`input[name="${name}"]:checked`))
      ?.value;

  const sync = () => {
    defaultSystem.hidden = value('direction') !== 'two_way';
    frequency.hidden = !auto.checked;
    const daily = value('frequency') === 'daily';
    intervalFields.hidden = daily;
    dailyFields.hidden = !daily;
  };
  formEl.addEventListener('change', sync);
  sync();

  /** Where each API path's error goes: next to the control it names. */
  const targets = {
    direction: direction,
    defaultSystem: defaultSystem,
    schedule: frequency,
    'schedule.mode': frequency,
    'schedule.everyMinutes': everyMinutes,
    'schedule.at': dailyAt,
    'schedule.timezone': tz,
    streaming: streaming,
    deletePolicy: deletes,
    fieldMapping: mapping,
  };

  const clearErrors = () => {
    formEl.querySelectorAll('.field-error').forEach((el) => el.remove());
    formEl.querySelectorAll('[aria-invalid]').forEach((el) => {
      el.removeAttribute('aria-invalid');
      const described = (el.getAttribute('aria-describedby') ?? '')
        .split(' ')
        .filter((id) => !id.startsWith('error-'));
      if (described.length > 0) el.setAttribute('aria-describedby', described.join(' '));
      else el.removeAttribute('aria-describedby');
    });
    replace(summary);
    replace(saved);
  };

  /** @param {Array<{path: string, message: string}>} fields @param {string} message */
  const showErrors = (fields, message) => {
    /** @type {Array<{text: string, target: HTMLElement | null}>} */
    const listed = [];
    fields.forEach((f, i) => {
      const key = /** @type {keyof typeof targets} */ (
        f.path.startsWith('fieldMapping') ? 'fieldMapping' : f.path
      );
      const target = /** @type {HTMLElement | undefined} */ (targets[key]);
      const text = `${labelOf(f.path)} ${f.message}`;
      if (target) {
        const id = `error-${i}`;
        const p = h('p', { id, class: 'field-error' }, text);
        if (target.tagName === 'FIELDSET') {
          target.querySelector('legend')?.after(p);
        } else {
          target.after(p);
          target.setAttribute('aria-invalid', 'true');
          target.setAttribute(
            'aria-describedby',
            `${target.getAttribute('aria-describedby') ?? ''} ${id}`.trim(),
          );
        }
      }
      listed.push({ text, target: target ?? null });
    });
    replace(
      summary,
      notice(
        'error',
        h('strong', null, 'The settings were not saved.'),
        listed.length > 0
          ? h(
              'ul',
              null,
              listed.map((l) =>
                h(
                  'li',
                  null,
                  l.target
                    ? h(
                        'button',
                        {
                          type: 'button',
                          class: 'link-button',
                          onclick: () => {
                            const focusable = l.target?.matches('input, select')
                              ? l.target
                              : l.target?.querySelector('input, select');
                            /** @type {HTMLElement | null | undefined} */ (focusable)?.focus();
                          },
                        },
                        l.text,
                      )
                    : l.text,
                ),
              ),
            )
          : h('p', null, message),
      ),
    );
  };

  formEl.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    const minutesText = /** @type {HTMLInputElement} */ (everyMinutes).value.trim();
    const minutes = minutesText === '' ? null : Number(minutesText);
    const body = {
      direction: value('direction'),
      defaultSystem: value('defaultSystem'),
      streaming: /** @type {HTMLInputElement} */ (streaming).checked,
      schedule: !auto.checked
        ? { mode: 'manual' }
        : value('frequency') === 'daily'
          ? {
              mode: 'daily',
              at: /** @type {HTMLInputElement} */ (dailyAt).value,
              timezone: /** @type {HTMLSelectElement} */ (tz).value,
            }
          : {
              mode: 'interval',
              everyMinutes: minutes !== null && Number.isFinite(minutes) ? minutes : null,
            },
      deletePolicy: value('deletePolicy'),
      // PUT replaces the settings: the rules this page does not edit go back as they were.
      fieldMapping: current.fieldMapping ?? [],
    };
    saveButton.disabled = true;
    try {
      current = await api('PUT', sfPath(orgId, '/settings'), body);
      replace(saved, notice('ok', 'Settings saved. The connector uses them from now on.'));
      announce('Settings saved.');
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && err.fields.length > 0) {
        showErrors(err.fields, err.message);
        const first =
          /** @type {HTMLElement | null} */ (formEl.querySelector('[aria-invalid="true"]')) ??
          /** @type {HTMLElement | null} */ (summary.querySelector('button'));
        first?.focus();
      } else {
        replace(summary, notice('error', err instanceof Error ? err.message : String(err)));
      }
    } finally {
      saveButton.disabled = false;
    }
  });
  return formEl;
}

/** The visible label an API path stands for. @param {string} path */
function labelOf(path) {
  const labels = {
    direction: 'Sync type',
    defaultSystem: 'Default system',
    schedule: 'Frequency',
    'schedule.mode': 'Frequency',
    'schedule.everyMinutes': 'Minutes between syncs',
    'schedule.at': 'Time of day',
    'schedule.timezone': 'Time zone',
    streaming: 'Streaming',
    deletePolicy: 'Deleted volunteers',
  };
  return (
    /** @type {Record<string, string>} */ (labels)[path] ??
    (path.startsWith('fieldMapping') ? `Field mapping (${path})` : path)
  );
}
