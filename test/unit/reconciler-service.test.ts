import { defaultMapping, type CanonicalValues } from '../../src/core/mapping';
import type { InitLiveStaffChange, SalesforceContactChange } from '../../src/core/records';
import { recordKey } from '../../src/core/topics';
import type { InitLiveApi } from '../../src/infra/initlive';
import type { OrgRuntime } from '../../src/orgs/org-directory';
import { produce } from '../../src/pipeline/deps';
import { Reconciler } from '../../src/reconciler/reconciler';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce';
import { collect, memoryDeps } from '../fixtures/pipeline-deps';
import { sandboxConnection } from './sink-salesforce-fixture';

const org = (over: Partial<OrgRuntime['settings']> = {}): OrgRuntime => ({
  orgId: 'org_demo',
  settings: {
    direction: 'two_way',
    defaultSystem: 'initlive',
    deletePolicy: 'archive',
    mapping: defaultMapping,
    ...over,
  },
  streaming: true,
  salesforce: null,
  initlive: {} as InitLiveApi,
  initliveOrigin: 'salesforce-sync',
  salesforceClientTag: 'InitLiveSync',
});

const staffValues = (id: string, email: string): CanonicalValues => ({
  initliveId: id,
  firstName: 'Ana',
  lastName: 'Ruiz',
  email,
  status: 'active',
});

function staffChange(id: string, email: string, version = 1): InitLiveStaffChange {
  return {
    orgId: 'org_demo',
    initliveId: id,
    salesforceId: null,
    operation: 'CREATE',
    changedFields: [],
    values: staffValues(id, email),
    sourceVersion: version,
    sourcePosition: String(version),
    origin: null,
    observedAt: 1,
    occurredAt: 1,
    runId: null,
  };
}

function contactChange(id: string, email: string): SalesforceContactChange {
  return {
    orgId: 'org_demo',
    salesforceId: id,
    initliveId: null,
    operation: 'SNAPSHOT',
    changedFields: [],
    values: { firstName: 'Ana', lastName: 'Ruiz', email },
    sourceVersion: 1000,
    sourcePosition: 'run:1',
    origin: null,
    commitUser: null,
    transactionKey: null,
    sequenceNumber: null,
    observedAt: 1,
    occurredAt: 1,
    runId: 'run_1',
  };
}

describe('reconciler service', () => {
  it('turns a new staff member into one Salesforce upsert by external id', async () => {
    const deps = await memoryDeps([org()]);
    const writes = await collect(deps, 'salesforceWrites');
    const reconciler = new Reconciler(deps);
    await reconciler.start();
    await produce(deps, 'staffChanges', [
      { key: recordKey('org_demo', 'stf_1'), value: staffChange('stf_1', 'ana@example.org') },
    ]);
    await writes.until(1);
    expect(writes.records[0]).toMatchObject({
      operation: 'UPSERT',
      externalId: 'stf_1',
      fields: expect.objectContaining({
        InitLive_Staff_Id__c: 'stf_1',
        LastName: 'Ruiz',
        Email: 'ana@example.org',
      }),
    });
    await reconciler.stop();
    await writes.stop();
  });

  it('archives the volunteer of a Contact deleted while no pair knew it, named by the recycle bin', async () => {
    // The store lost its links and the repair run has not linked this Contact yet: the
    // deletion event names only the Contact; the recycle bin still says whose it was.
    const sb = await startSalesforceSandbox({ streaming: false });
    try {
      const contact = sb.control.createContact({
        LastName: 'Ruiz',
        Email: 'ana@example.org',
        InitLive_Staff_Id__c: 'stf_1',
      });
      sb.control.deleteContact(String(contact.Id));
      const deps = await memoryDeps([{ ...org(), salesforce: await sandboxConnection(sb) }]);
      const writes = await collect(deps, 'initliveWrites');
      const reconciler = new Reconciler(deps);
      await reconciler.start();
      await produce(deps, 'contactChanges', [
        {
          key: recordKey('org_demo', String(contact.Id)),
          value: {
            ...contactChange(String(contact.Id), ''),
            operation: 'DELETE',
            values: {},
            sourcePosition: '4242',
            runId: null,
          },
        },
      ]);
      await writes.until(1);
      expect(writes.records[0]).toMatchObject({
        operation: 'UPDATE',
        initliveId: 'stf_1',
        fields: { status: 'archived' },
      });
      await reconciler.stop();
      await writes.stop();
    } finally {
      await sb.close();
    }
  });

  it('lets every field of a Contact read whole flow when the read is newer than the event no pair knew (chaos seed 202)', async () => {
    // The store lost its links. The first name changed, then first and last name together;
    // the first event is a fragment no pair knows, so the Contact is read whole, and the read
    // already holds the second change: taking the volunteer to hold its last name would lose it.
    const sb = await startSalesforceSandbox({ streaming: false });
    try {
      const contact = sb.control.createContact({
        FirstName: 'F1665',
        LastName: 'L1665',
        Email: 'finn@example.org',
        InitLive_Staff_Id__c: 'stf_1',
      });
      const deps = await memoryDeps([{ ...org(), salesforce: await sandboxConnection(sb) }]);
      const writes = await collect(deps, 'initliveWrites');
      const reconciler = new Reconciler(deps);
      await reconciler.start();
      await produce(deps, 'contactChanges', [
        {
          key: recordKey('org_demo', String(contact.Id)),
          value: {
            ...contactChange(String(contact.Id), ''),
            operation: 'UPDATE',
            changedFields: ['FirstName'],
            values: { firstName: 'F1659' },
            sourceVersion: Date.parse(String(contact.LastModifiedDate)) - 5_000,
            sourcePosition: '4242',
            runId: null,
          },
        },
      ]);
      await writes.until(1);
      expect(writes.records[0]).toMatchObject({
        operation: 'UPDATE',
        initliveId: 'stf_1',
        fields: expect.objectContaining({ firstName: 'F1665', lastName: 'L1665' }),
      });
      await reconciler.stop();
      await writes.stop();
    } finally {
      await sb.close();
    }
  });

  it('sends the volunteer an edit no pair knew whose Contact was deleted since (chaos seed 101)', async () => {
    // The last name changed during a network cut, the Contact was deleted, then the store lost
    // its links: the event's Contact is read from the recycle bin, which still holds the edit.
    const sb = await startSalesforceSandbox({ streaming: false });
    try {
      const contact = sb.control.createContact({
        FirstName: 'Cleo',
        LastName: 'L345',
        Email: 'cleo@example.org',
        InitLive_Staff_Id__c: 'stf_1',
      });
      sb.control.deleteContact(String(contact.Id));
      const deps = await memoryDeps([{ ...org(), salesforce: await sandboxConnection(sb) }]);
      const writes = await collect(deps, 'initliveWrites');
      const reconciler = new Reconciler(deps);
      await reconciler.start();
      await produce(deps, 'contactChanges', [
        {
          key: recordKey('org_demo', String(contact.Id)),
          value: {
            ...contactChange(String(contact.Id), ''),
            operation: 'UPDATE',
            changedFields: ['LastName'],
            values: { lastName: 'L345' },
            sourceVersion: Date.parse(String(contact.LastModifiedDate)),
            sourcePosition: '4242',
            runId: null,
          },
        },
      ]);
      await writes.until(1);
      expect(writes.records[0]).toMatchObject({
        operation: 'UPDATE',
        initliveId: 'stf_1',
        fields: expect.objectContaining({ lastName: 'L345' }),
      });
      await reconciler.stop();
      await writes.stop();
    } finally {
      await sb.close();
    }
  });

  it('marks the Contact of a volunteer deleted in InitLive while no pair knew them, found by their id', async () => {
    const sb = await startSalesforceSandbox({ streaming: false });
    try {
      const contact = sb.control.createContact({
        LastName: 'Ruiz',
        Email: 'ana@example.org',
        InitLive_Staff_Id__c: 'stf_9',
      });
      const deps = await memoryDeps([{ ...org(), salesforce: await sandboxConnection(sb) }]);
      const writes = await collect(deps, 'salesforceWrites');
      const reconciler = new Reconciler(deps);
      await reconciler.start();
      await produce(deps, 'staffChanges', [
        {
          key: recordKey('org_demo', 'stf_9'),
          value: { ...staffChange('stf_9', 'ana@example.org', 4), operation: 'DELETE', values: {} },
        },
      ]);
      await writes.until(1);
      expect(writes.records[0]).toMatchObject({
        salesforceId: String(contact.Id),
        fields: expect.objectContaining({ InitLive_Status__c: 'deleted' }),
      });
      await reconciler.stop();
      await writes.stop();
    } finally {
      await sb.close();
    }
  });

  it('links a Contact to a staff member by a unique email, case-insensitively', async () => {
    const deps = await memoryDeps([org()]);
    const reconciler = new Reconciler(deps);
    await reconciler.start();
    await produce(deps, 'contactChanges', [
      { key: recordKey('org_demo', '003A'), value: contactChange('003A', 'Ana@Example.org') },
    ]);
    await produce(deps, 'staffChanges', [
      { key: recordKey('org_demo', 'stf_1'), value: staffChange('stf_1', 'ana@example.org') },
    ]);
    const deadline = Date.now() + 5000;
    let pairId: string | null = null;
    while (!pairId && Date.now() < deadline) {
      pairId = await deps.store.findPairId('org_demo', 'initlive', 'stf_1');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(pairId).not.toBeNull();
    expect(await deps.store.findPairId('org_demo', 'salesforce', '003A')).toBe(pairId);
    await reconciler.stop();
  });

  it('reports an ambiguous email match naming the candidates, and does not guess', async () => {
    const deps = await memoryDeps([org()]);
    const dead = await collect(deps, 'deadLetters');
    const reconciler = new Reconciler(deps);
    await reconciler.start();
    await produce(deps, 'contactChanges', [
      { key: recordKey('org_demo', '003A'), value: contactChange('003A', 'same@example.org') },
      { key: recordKey('org_demo', '003B'), value: contactChange('003B', 'same@example.org') },
    ]);
    // Wait until both contacts are indexed, then the staff member arrives.
    const deadline = Date.now() + 5000;
    while (
      (await deps.emailIndex.find('org_demo', 'same@example.org')).length < 2 &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await produce(deps, 'staffChanges', [
      { key: recordKey('org_demo', 'stf_9'), value: staffChange('stf_9', 'same@example.org') },
    ]);
    await dead.until(1);
    expect(dead.records[0]).toMatchObject({
      errorCode: 'AMBIGUOUS_MATCH',
      recordType: 'InitLiveStaffChange',
    });
    expect(dead.records[0]!.message).toMatch(/003A.*003B|003B.*003A/);
    expect(await deps.store.findPairId('org_demo', 'initlive', 'stf_9')).toBeNull();
    await reconciler.stop();
    await dead.stop();
  });

  it('dead-letters a Contact naming a volunteer already linked to another Contact, and keeps flowing', async () => {
    const deps = await memoryDeps([org()]);
    const dead = await collect(deps, 'deadLetters');
    const reconciler = new Reconciler(deps);
    await reconciler.start();
    // stf_1 and Contact 003A are one person, linked.
    await produce(deps, 'contactChanges', [
      {
        key: recordKey('org_demo', '003A'),
        value: { ...contactChange('003A', 'ana@example.org'), initliveId: 'stf_1' },
      },
    ]);
    const deadline = Date.now() + 5000;
    while (
      !(await deps.store.findPairId('org_demo', 'salesforce', '003A')) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    // Another Contact carries stf_1's id too (say, copied by hand): retrying never settles it,
    // and before, it held the partition (everyone after it) for good.
    await produce(deps, 'contactChanges', [
      {
        key: recordKey('org_demo', '003B'),
        value: { ...contactChange('003B', 'copy@example.org'), initliveId: 'stf_1' },
      },
      { key: recordKey('org_demo', '003C'), value: contactChange('003C', 'cy@example.org') },
    ]);
    await dead.until(1);
    expect(dead.records[0]).toMatchObject({
      errorCode: 'AMBIGUOUS_MATCH',
      recordType: 'SalesforceContactChange',
    });
    expect(dead.records[0]!.message).toContain('stf_1');
    expect(dead.records[0]!.message).not.toContain('copy@example.org');
    // The next Contact in the partition is decided: a new volunteer for 003C.
    const until = Date.now() + 5000;
    while (!(await deps.store.findPairId('org_demo', 'salesforce', '003C')) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await deps.store.findPairId('org_demo', 'salesforce', '003C')).not.toBeNull();
    expect(await deps.store.findPairId('org_demo', 'salesforce', '003B')).toBeNull();
    await reconciler.stop();
    await dead.stop();
  });

  it('dead-letters a record Salesforce would refuse, with the reason, and keeps flowing', async () => {
    const deps = await memoryDeps([org()]);
    const dead = await collect(deps, 'deadLetters');
    const writes = await collect(deps, 'salesforceWrites');
    const reconciler = new Reconciler(deps);
    await reconciler.start();
    await produce(deps, 'staffChanges', [
      { key: recordKey('org_demo', 'stf_bad'), value: staffChange('stf_bad', 'not-an-email') },
      { key: recordKey('org_demo', 'stf_ok'), value: staffChange('stf_ok', 'ok@example.org') },
    ]);
    await dead.until(1);
    await writes.until(1);
    expect(dead.records[0]).toMatchObject({
      errorCode: 'SALESFORCE_REJECTED',
      upstreamCode: 'INVALID_EMAIL_ADDRESS',
    });
    expect(writes.records.map((w) => w.externalId)).toEqual(['stf_ok']);
    // The refused record's pair was never stored, so its email claim was given back: nobody
    // met later with that address waits on (or joins) a pair that does not exist.
    expect(await deps.emailIndex.find('org_demo', 'not-an-email')).toEqual([]);
    expect(await deps.emailIndex.find('org_demo', 'ok@example.org')).toHaveLength(1);
    await reconciler.stop();
    await Promise.all([dead.stop(), writes.stop()]);
  });

  it('dead-letters undecodable bytes and changes for unknown organizations', async () => {
    const deps = await memoryDeps([org()]);
    const dead = await collect(deps, 'deadLetters');
    const reconciler = new Reconciler(deps);
    await reconciler.start();
    await deps.transport.send(deps.topics.staffChanges, [
      { key: 'x', value: Buffer.from('garbage') },
    ]);
    await produce(deps, 'staffChanges', [
      {
        key: 'other/stf_1',
        value: { ...staffChange('stf_1', 'a@example.org'), orgId: 'org_other' },
      },
    ]);
    await dead.until(2);
    expect(dead.records.map((d) => d.errorCode).sort()).toEqual(['NOT_FOUND', 'SCHEMA_MISMATCH']);
    expect(
      dead.records.find((d) => d.errorCode === 'SCHEMA_MISMATCH')!.originalValue.toString(),
    ).toBe('garbage');
    await reconciler.stop();
    await dead.stop();
  });
});
