import { defaultMapping } from '../../src/core/mapping';
import {
  defaultSyncSettings,
  isIanaTimeZone,
  parseSyncSettings,
  toReconcileSettings,
} from '../../src/core/settings';

describe('sync settings', () => {
  test('defaults are the safest choice', () => {
    expect(defaultSyncSettings).toEqual({
      direction: 'initlive_to_salesforce',
      defaultSystem: 'initlive',
      streaming: true,
      schedule: { mode: 'manual' },
      deletePolicy: 'archive',
      fieldMapping: [],
    });
  });

  test('defaultSystem is required for two_way only', () => {
    expect(parseSyncSettings({ direction: 'two_way' })).toEqual({
      ok: false,
      problems: [
        {
          path: 'defaultSystem',
          message: expect.stringMatching(/required when direction is two_way/),
        },
      ],
    });
    expect(parseSyncSettings({ direction: 'salesforce_to_initlive' })).toMatchObject({ ok: true });
    // Also named when another field is bad at the same time.
    const both = parseSyncSettings({ direction: 'two_way', deletePolicy: 'x' });
    expect(both.ok ? [] : both.problems.map((p) => p.path)).toEqual([
      'deletePolicy',
      'defaultSystem',
    ]);
  });

  test('everyMinutes is 5 to 1440, whole', () => {
    const at = (n: unknown) =>
      parseSyncSettings({ schedule: { mode: 'interval', everyMinutes: n } });
    expect(at(5).ok).toBe(true);
    expect(at(1440).ok).toBe(true);
    for (const bad of [4, 1441, 7.5, '15']) {
      const r = at(bad);
      expect(r.ok ? [] : r.problems.map((p) => p.path)).toEqual(['schedule.everyMinutes']);
    }
  });

  test('daily needs HH:MM and an IANA zone', () => {
    expect(
      parseSyncSettings({ schedule: { mode: 'daily', at: '23:59', timezone: 'America/Vancouver' } })
        .ok,
    ).toBe(true);
    expect(
      parseSyncSettings({ schedule: { mode: 'daily', at: '24:00', timezone: 'UTC' } }).ok,
    ).toBe(false);
    expect(isIanaTimeZone('Europe/Paris')).toBe(true);
    expect(isIanaTimeZone('UTC')).toBe(true);
    expect(isIanaTimeZone('Mars/Olympus')).toBe(false);
    expect(isIanaTimeZone('+02:00')).toBe(false);
    const r = parseSyncSettings({ schedule: { mode: 'daily' } });
    expect(r.ok ? [] : r.problems.map((p) => p.path).sort()).toEqual([
      'schedule.at',
      'schedule.timezone',
    ]);
  });

  test('toReconcileSettings resolves the field mapping', () => {
    const parsed = parseSyncSettings({
      direction: 'two_way',
      defaultSystem: 'salesforce',
      deletePolicy: 'ignore',
      fieldMapping: [
        { field: 'phone', direction: 'none' },
        { field: 'email', direction: 'to_salesforce', salesforceField: 'Work_Email__c' },
      ],
    });
    if (!parsed.ok) throw new Error('expected valid settings');
    const rs = toReconcileSettings(parsed.settings);
    expect(rs).toMatchObject({
      direction: 'two_way',
      defaultSystem: 'salesforce',
      deletePolicy: 'ignore',
    });
    expect(rs.mapping.find((m) => m.field === 'phone')).toBeUndefined();
    expect(rs.mapping.find((m) => m.field === 'email')).toEqual({
      field: 'email',
      salesforceField: 'Work_Email__c',
      direction: 'to_salesforce',
    });
    expect(toReconcileSettings(defaultSyncSettings).mapping).toEqual(defaultMapping);
  });
});
