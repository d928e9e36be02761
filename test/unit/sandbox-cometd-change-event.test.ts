import {
  buildChangeEvent,
  changeOriginOf,
  toEventValue,
} from '../../src/sandbox/salesforce/cometd/change-event';
import { EventLog } from '../../src/sandbox/salesforce/cometd/event-log';
import type { ContactRecord, ContactWriteEvent } from '../../src/sandbox/salesforce/model';

const before: ContactRecord = {
  Id: '003Dn00000AbCdEIAV',
  IsDeleted: false,
  Name: 'Dana Scully',
  FirstName: 'Dana',
  LastName: 'Scully',
  Title: 'Agent',
  OtherCity: 'Quantico',
  LastModifiedDate: '2025-01-01T00:00:00.000+0000',
  LastModifiedById: '005A',
  SystemModstamp: '2025-01-01T00:00:00.000+0000',
};

function update(
  after: ContactRecord,
  changedFields: string[],
  overrides: Partial<ContactWriteEvent> = {},
): ContactWriteEvent {
  return {
    changeType: 'UPDATE',
    recordId: '003Dn00000AbCdEIAV',
    before,
    after,
    changedFields,
    api: 'rest',
    apiVersion: '62.0',
    client: 'InitLiveSync',
    userId: '005B',
    transactionKey: 'tx-1',
    sequenceNumber: 2,
    commitTimestamp: 1735689600000,
    ...overrides,
  };
}

describe('CDC change event body', () => {
  it('includes LastModifiedById only when it changed and adds LastModifiedDate when missing', () => {
    const after = {
      ...before,
      OtherCity: 'Arlington',
      LastModifiedDate: '2025-01-02T03:04:05.000+0000',
      LastModifiedById: '005B',
    };
    const sameUser = buildChangeEvent(
      update({ ...after, LastModifiedById: '005A' }, ['OtherCity']),
      7,
    );
    expect(sameUser.payload).toEqual({
      ChangeEventHeader: expect.objectContaining({
        changedFields: ['OtherAddress.City', 'LastModifiedDate'],
        sequenceNumber: 2,
        commitNumber: 7,
        commitUser: '005B',
      }),
      OtherAddress: { City: 'Arlington' },
      LastModifiedDate: '2025-01-02T03:04:05.000Z',
    });

    const otherUser = buildChangeEvent(
      update(after, ['OtherCity', 'LastModifiedDate', 'LastModifiedById', 'SystemModstamp']),
      8,
    );
    expect(otherUser.payload.ChangeEventHeader.changedFields).toEqual([
      'OtherAddress.City',
      'LastModifiedDate',
      'LastModifiedById',
    ]);
    expect(otherUser.payload.LastModifiedById).toBe('005B');
    expect(otherUser.payload).not.toHaveProperty('SystemModstamp');
  });

  it('keeps explicit nulls for cleared fields, inside compound fields too', () => {
    const event = buildChangeEvent(
      update({ ...before, FirstName: null, Title: null }, ['FirstName', 'Title']),
      1,
    );
    expect(event.payload).toMatchObject({ Name: { FirstName: null }, Title: null });
    expect(event.payload.ChangeEventHeader.changedFields).toEqual([
      'Name.FirstName',
      'Title',
      'LastModifiedDate',
    ]);
  });

  it('formats datetimes as UTC Z and leaves dates and other strings alone', () => {
    expect(toEventValue('2025-01-01T01:30:00.000+0130')).toBe('2025-01-01T00:00:00.000Z');
    expect(toEventValue('2025-01-01T00:00:00.000Z')).toBe('2025-01-01T00:00:00.000Z');
    expect(toEventValue('1964-02-23')).toBe('1964-02-23');
    expect(toEventValue('not a date')).toBe('not a date');
    expect(toEventValue(undefined)).toBeNull();
  });

  it('writes changeOrigin with a client part only when the call named one, empty for UI edits', () => {
    expect(changeOriginOf({ api: 'rest', apiVersion: '62.0', client: 'InitLiveSync' })).toBe(
      'com/salesforce/api/rest/62.0;client=InitLiveSync',
    );
    expect(changeOriginOf({ api: 'bulkapi', apiVersion: '61.0', client: null })).toBe(
      'com/salesforce/api/bulkapi/61.0',
    );
    expect(changeOriginOf({ api: 'ui', apiVersion: '62.0', client: 'InitLiveSync' })).toBe('');
  });
});

describe('CDC event log', () => {
  const body = { schema: 's', payload: { ChangeEventHeader: {} } } as never;

  it('hands out increasing, non-contiguous replay ids that survive a purge', () => {
    let now = 0;
    const log = new EventLog({ now: () => now, retentionMs: 1000 });
    const ids = Array.from({ length: 20 }, () => log.append(body).replayId);
    const steps = ids.slice(1).map((id, i) => id - ids[i]!);
    expect(steps.every((s) => s >= 1)).toBe(true);
    expect(new Set(steps).size).toBeGreaterThan(1);
    log.purge();
    expect(log.latestReplayId()).toBe(0);
    expect(log.append(body).replayId).toBeGreaterThan(ids.at(-1)!);
    now += 1;
    expect(log.resolve(ids[3]!)).toEqual({ ok: false });
  });

  it('expires events older than the retention window', () => {
    let now = 0;
    const log = new EventLog({ now: () => now, retentionMs: 1000 });
    const first = log.append(body).replayId;
    now = 600;
    const second = log.append(body).replayId;
    now = 1200;
    expect(log.resolve(first)).toEqual({ ok: false });
    expect(log.resolve(second)).toEqual({ ok: true, events: [] });
    expect(log.resolve(-2)).toEqual({
      ok: true,
      events: [expect.objectContaining({ replayId: second })],
    });
    now = 1700;
    expect(log.latestReplayId()).toBe(0);
    expect(log.resolve(-3)).toEqual({ ok: false });
  });
});
