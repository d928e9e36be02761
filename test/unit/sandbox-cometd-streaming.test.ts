/**
 * The CometD emulator driven by jsforce's real streaming client (a faye Client with jsforce's
 * Replay and AuthFailure extensions), the way the connector uses it against Salesforce.
 */
import {
  USER_ID,
  postBayeux,
  startSandbox,
  streamingClient,
  waitFor,
  type BayeuxMeta,
  type Sandbox,
  type StreamingHarness,
} from './sandbox-cometd-fake-org';

const CONTACT_CHANNEL = '/data/ContactChangeEvent';
const ALL_CHANNEL = '/data/ChangeEvents';

describe('Salesforce sandbox CometD (CDC) with jsforce streaming', () => {
  let sandbox: Sandbox;
  let token: string;
  const harnesses: StreamingHarness[] = [];

  const connect = (
    replayId: number | null,
    replayChannel = CONTACT_CHANNEL,
    accessToken = token,
  ): StreamingHarness => {
    const harness = streamingClient(sandbox, accessToken, { channel: replayChannel, replayId });
    harnesses.push(harness);
    return harness;
  };

  beforeEach(async () => {
    sandbox = await startSandbox();
    token = sandbox.org.issueToken();
  });

  afterEach(async () => {
    for (const harness of harnesses.splice(0)) await harness.disconnect();
    await sandbox.close();
  });

  it('delivers CREATE, UPDATE, DELETE and UNDELETE events shaped like Salesforce CDC', async () => {
    const stream = connect(-1);
    await stream.subscribe(CONTACT_CHANNEL);

    const created = sandbox.org.create({
      Salutation: 'Ms.',
      FirstName: 'Dana',
      LastName: 'Scully',
      Email: 'dana@example.org',
      Phone: null,
      Title: 'Agent',
      Birthdate: '1964-02-23',
      MailingStreet: '1 Main St',
      MailingCity: 'Washington',
      InitLive_Id__c: 'il-42',
    });
    const id = created.recordId;
    sandbox.org.advance(60_000);
    sandbox.org.update(
      id,
      { FirstName: 'Danielle', Title: null, MailingCity: 'Arlington' },
      { api: 'bulkapi', client: null },
    );
    sandbox.org.delete(id, { api: 'soap', client: 'Other' });
    sandbox.org.undelete(id);

    await waitFor('four events', () => stream.events.length === 4);
    const [create, update, del, undelete] = stream.events;

    expect(create!.schema).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(create!.payload).toEqual({
      ChangeEventHeader: {
        entityName: 'Contact',
        recordIds: [id],
        changeType: 'CREATE',
        changeOrigin: 'com/salesforce/api/rest/62.0;client=InitLiveSync',
        transactionKey: created.transactionKey,
        sequenceNumber: 1,
        commitTimestamp: created.commitTimestamp,
        commitNumber: expect.any(Number),
        commitUser: USER_ID,
        changedFields: [],
      },
      Name: { Salutation: 'Ms.', FirstName: 'Dana', LastName: 'Scully' },
      Email: 'dana@example.org',
      Title: 'Agent',
      Birthdate: '1964-02-23',
      MailingAddress: { Street: '1 Main St', City: 'Washington' },
      InitLive_Id__c: 'il-42',
      OwnerId: USER_ID,
      CreatedDate: '2025-01-01T12:00:00.000Z',
      CreatedById: USER_ID,
      LastModifiedDate: '2025-01-01T12:00:00.000Z',
      LastModifiedById: USER_ID,
    });

    // Only what changed, explicit null for the cleared field, LastModifiedDate always.
    expect(update!.payload).toEqual({
      ChangeEventHeader: expect.objectContaining({
        changeType: 'UPDATE',
        recordIds: [id],
        changeOrigin: 'com/salesforce/api/bulkapi/62.0',
        changedFields: ['Name.FirstName', 'Title', 'MailingAddress.City', 'LastModifiedDate'],
      }),
      Name: { FirstName: 'Danielle' },
      Title: null,
      MailingAddress: { City: 'Arlington' },
      LastModifiedDate: '2025-01-01T12:01:00.000Z',
    });

    expect(del!.payload).toEqual({
      ChangeEventHeader: expect.objectContaining({
        changeType: 'DELETE',
        recordIds: [id],
        changeOrigin: 'com/salesforce/api/soap/62.0;client=Other',
        changedFields: [],
      }),
    });

    expect(undelete!.payload.ChangeEventHeader).toMatchObject({
      changeType: 'UNDELETE',
      changedFields: [],
    });
    expect(undelete!.payload).toMatchObject({
      Name: { Salutation: 'Ms.', FirstName: 'Danielle', LastName: 'Scully' },
      MailingAddress: { Street: '1 Main St', City: 'Arlington' },
      Email: 'dana@example.org',
    });
    for (const event of stream.events) {
      expect(event.payload).not.toHaveProperty('IsDeleted');
      expect(event.payload).not.toHaveProperty('SystemModstamp');
      expect(event.payload).not.toHaveProperty('Id');
    }
    expect(undelete!.payload).not.toHaveProperty('Title');

    const replayIds = stream.events.map((e) => e.event.replayId);
    expect([...replayIds].sort((a, b) => a - b)).toEqual(replayIds);
    expect(new Set(replayIds).size).toBe(4);
    expect(sandbox.control.latestReplayId()).toBe(replayIds[3]);
    // Separate transactions get increasing commit numbers.
    const commits = stream.events.map((e) => e.payload.ChangeEventHeader.commitNumber as number);
    expect(commits[1]! > commits[0]! && commits[3]! > commits[2]!).toBe(true);
  });

  it('answers the handshake like Salesforce and carries Contact events on /data/ChangeEvents too', async () => {
    const contact = connect(-1);
    const all = connect(-1, ALL_CHANNEL);
    await contact.subscribe(CONTACT_CHANNEL);
    await all.subscribe(ALL_CHANNEL);
    expect(sandbox.control.clientCount()).toBe(2);

    const handshake = all.meta.find((m) => m.channel === '/meta/handshake');
    expect(handshake).toMatchObject({
      successful: true,
      supportedConnectionTypes: ['long-polling'],
      ext: { replay: true, 'payload.format': true },
      minimumVersion: '1.0',
      version: '1.0',
    });

    sandbox.org.create({ LastName: 'Mulder' });
    await waitFor(
      'event on both channels',
      () => contact.events.length === 1 && all.events.length === 1,
    );
    expect(all.events[0]).toEqual(contact.events[0]);
    await waitFor('a connect reply', () => all.meta.some((m) => m.channel === '/meta/connect'));
    expect(all.meta.find((m) => m.channel === '/meta/connect')).toMatchObject({
      successful: true,
      advice: { reconnect: 'retry', interval: 0, timeout: 2000 },
    });
  });

  it('replays all retained events (-2) and events after a given id, then continues live', async () => {
    const first = sandbox.org.create({ LastName: 'One' });
    sandbox.org.create({ LastName: 'Two' });
    sandbox.org.create({ LastName: 'Three' });
    const retained = await (async () => {
      const probe = connect(-2);
      await probe.subscribe(CONTACT_CHANNEL);
      await waitFor('three replayed events', () => probe.events.length === 3);
      return probe.events;
    })();
    expect(retained.map((e) => e.payload.Name)).toEqual([
      { LastName: 'One' },
      { LastName: 'Two' },
      { LastName: 'Three' },
    ]);
    expect(retained[0]!.payload.ChangeEventHeader.recordIds).toEqual([first.recordId]);

    const afterFirst = connect(retained[0]!.event.replayId);
    await afterFirst.subscribe(CONTACT_CHANNEL);
    sandbox.org.create({ LastName: 'Four' });
    await waitFor('two replayed and one live event', () => afterFirst.events.length === 3);
    expect(afterFirst.events.map((e) => e.payload.Name)).toEqual([
      { LastName: 'Two' },
      { LastName: 'Three' },
      { LastName: 'Four' },
    ]);

    const fresh = connect(-1);
    await fresh.subscribe(CONTACT_CHANNEL);
    sandbox.org.create({ LastName: 'Five' });
    await waitFor('one live event', () => fresh.events.length === 1);
    expect(fresh.events[0]!.payload.Name).toEqual({ LastName: 'Five' });
  });

  it('refuses expired, purged and unknown replay ids and replay maps naming another channel', async () => {
    sandbox.org.create({ LastName: 'Old' });
    const oldId = sandbox.control.latestReplayId();
    sandbox.org.advance(sandbox.org.retentionMs + 1);
    sandbox.org.create({ LastName: 'New' });
    const newId = sandbox.control.latestReplayId();

    const failedSubscribe = async (
      replayId: number,
      replayChannel = CONTACT_CHANNEL,
    ): Promise<string | undefined> => {
      const stream = connect(replayId, replayChannel);
      await expect(stream.subscribe(CONTACT_CHANNEL)).rejects.toBeDefined();
      return stream.meta.find((m) => m.channel === '/meta/subscribe')?.error;
    };
    const invalid = (n: number): string =>
      `400::The replayId {${n}} you provided was invalid. Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.`;

    expect(await failedSubscribe(oldId)).toBe(invalid(oldId));
    expect(await failedSubscribe(newId + 1)).toBe(invalid(newId + 1));
    expect(await failedSubscribe(-2, ALL_CHANNEL)).toBe(
      "400::The replayId for channel {/data/ContactChangeEvent} wasn't found using the provided replay ID map {{/data/ChangeEvents=-2}}. Ensure that the channel name you provided in the replay map is valid and matches the channel name used for subscribing.",
    );

    sandbox.control.purgeRetention();
    expect(sandbox.control.latestReplayId()).toBe(0);
    expect(await failedSubscribe(newId)).toBe(invalid(newId));
    // Ids are never reused after a purge.
    sandbox.org.create({ LastName: 'After purge' });
    expect(sandbox.control.latestReplayId()).toBeGreaterThan(newId);
  });

  it('refuses unknown channels', async () => {
    const stream = connect(-1, '/data/AccountChangeEvent');
    await expect(stream.subscribe('/data/AccountChangeEvent')).rejects.toBeDefined();
    expect(stream.meta.find((m) => m.channel === '/meta/subscribe')).toMatchObject({
      successful: false,
      error:
        "400::The channel you requested to subscribe to doesn't exist {/data/AccountChangeEvent}",
    });
  });

  it('makes a dropped client re-handshake and resume from its last replay id, missing nothing', async () => {
    const stream = connect(-1);
    await stream.subscribe(CONTACT_CHANNEL);
    sandbox.org.create({ LastName: 'Before drop' });
    await waitFor('first event', () => stream.events.length === 1);

    sandbox.control.dropAllClients();
    expect(sandbox.control.clientCount()).toBe(0);
    // Written while the client has no session: only replay can bring these.
    sandbox.org.create({ LastName: 'While dropped 1' });
    sandbox.org.create({ LastName: 'While dropped 2' });

    await waitFor('resumed events', () => stream.events.length >= 3);
    sandbox.org.create({ LastName: 'After resume' });
    await waitFor('live event after resume', () => stream.events.length >= 4);
    // Give a duplicate, if any, the chance to arrive.
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(stream.events.map((e) => e.payload.Name)).toEqual([
      { LastName: 'Before drop' },
      { LastName: 'While dropped 1' },
      { LastName: 'While dropped 2' },
      { LastName: 'After resume' },
    ]);
    expect(
      stream.meta.find((m) => m.channel === '/meta/connect' && m.successful === false),
    ).toMatchObject({
      error: '403::Unknown client',
      advice: { reconnect: 'handshake', interval: 0 },
    });
    expect(stream.meta.filter((m) => m.channel === '/meta/handshake' && m.successful)).toHaveLength(
      2,
    );
    expect(sandbox.control.clientCount()).toBe(1);
  });

  it('loses and repeats nothing when sessions drop repeatedly while writes keep coming', async () => {
    const stream = connect(-1);
    await stream.subscribe(CONTACT_CHANNEL);
    sandbox.org.create({ LastName: 'c0' });
    await waitFor('first event', () => stream.events.length === 1);

    let written = 1;
    const writer = setInterval(() => {
      sandbox.org.create({ LastName: `c${written}` });
      written += 1;
    }, 3);
    try {
      for (let drop = 0; drop < 4; drop++) {
        const handshakes = stream.meta.filter((m) => m.channel === '/meta/handshake').length;
        sandbox.control.dropAllClients();
        await waitFor(
          're-handshake',
          () => stream.meta.filter((m) => m.channel === '/meta/handshake').length > handshakes,
        );
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    } finally {
      clearInterval(writer);
    }
    await waitFor('every written event', () => stream.events.length >= written);
    await new Promise((resolve) => setTimeout(resolve, 100));

    const names = stream.events.map((e) => (e.payload.Name as { LastName: string }).LastName);
    expect(names).toEqual(Array.from({ length: written }, (_, i) => `c${i}`));
    expect(written).toBeGreaterThan(10);
  });

  it('denies a handshake with a bad token and fires AuthFailure', async () => {
    const stream = connect(-1, CONTACT_CHANNEL, 'not-a-token');
    void stream.subscribe(CONTACT_CHANNEL);
    await waitFor('auth failure', () => stream.authFailures.length === 1);
    expect(stream.authFailures[0]).toEqual({
      ext: { sfdc: { failureReason: '401::Authentication invalid' } },
      advice: { reconnect: 'none' },
      channel: '/meta/handshake',
      id: expect.any(String),
      error: '403::Handshake denied',
      successful: false,
    });
    expect(sandbox.control.clientCount()).toBe(0);
  });

  it('ends a session whose token is revoked with 401::Authentication invalid', async () => {
    const stream = connect(-1);
    await stream.subscribe(CONTACT_CHANNEL);
    sandbox.org.create({ LastName: 'Seen' });
    await waitFor('first event', () => stream.events.length === 1);
    // Let the client's next connect be the one held open when the token goes.
    await waitFor(
      'held connect',
      () => stream.meta.filter((m) => m.channel === '/meta/connect').length >= 2,
    );

    sandbox.org.revoke(token);
    await waitFor('auth failure', () => stream.authFailures.length === 1);
    expect(stream.authFailures[0]).toMatchObject({
      channel: '/meta/connect',
      successful: false,
      error: '401::Authentication invalid',
      advice: { reconnect: 'none' },
    });
    expect(sandbox.control.clientCount()).toBe(0);

    sandbox.org.create({ LastName: 'Not seen' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stream.events).toHaveLength(1);
  });

  it('delivers GAP and GAP_OVERFLOW events with the header only', async () => {
    const stream = connect(-1);
    await stream.subscribe(CONTACT_CHANNEL);
    sandbox.control.emitGap('GAP_UPDATE', ['003Dn00000AbCdEIAV', '003Dn00000AbCdFIAV']);
    sandbox.control.emitOverflow();
    await waitFor('gap and overflow', () => stream.events.length === 2);

    expect(stream.events[0]!.payload).toEqual({
      ChangeEventHeader: {
        entityName: 'Contact',
        recordIds: ['003Dn00000AbCdEIAV', '003Dn00000AbCdFIAV'],
        changeType: 'GAP_UPDATE',
        changeOrigin: '',
        transactionKey: expect.stringMatching(
          /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        ),
        sequenceNumber: 1,
        commitTimestamp: sandbox.org.now(),
        commitNumber: expect.any(Number),
        commitUser: expect.stringMatching(/^005[A-Za-z0-9]{15}$/),
        changedFields: [],
      },
    });
    expect(stream.events[1]!.payload).toEqual({
      ChangeEventHeader: expect.objectContaining({
        entityName: 'Contact',
        changeType: 'GAP_OVERFLOW',
        recordIds: [],
      }),
    });
  });
});

describe('Salesforce sandbox CometD at the Bayeux wire level', () => {
  let sandbox: Sandbox;
  let token: string;

  beforeEach(async () => {
    sandbox = await startSandbox();
    token = sandbox.org.issueToken();
  });
  afterEach(async () => {
    await sandbox.close();
  });

  const handshake = {
    channel: '/meta/handshake',
    version: '1.0',
    supportedConnectionTypes: ['long-polling'],
    id: '1',
  };

  it('tells a tokenless handshake that authentication is required', async () => {
    const res = await postBayeux(sandbox, [handshake], null);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      {
        ext: { sfdc: { failureReason: '401::Request requires authentication' } },
        advice: { reconnect: 'none' },
        channel: '/meta/handshake',
        id: '1',
        error: '403::Handshake denied',
        successful: false,
      },
    ]);
  });

  it('accepts Bearer tokens and only long-polling', async () => {
    const websocketOnly = await postBayeux(
      sandbox,
      [{ ...handshake, supportedConnectionTypes: ['websocket'] }],
      token,
    );
    expect(websocketOnly.body).toEqual([
      expect.objectContaining({ successful: false, error: '400::Invalid connection type' }),
    ]);

    const ok = await postBayeux(sandbox, [handshake], token, '/cometd/62.0', 'Bearer');
    const reply = (ok.body as BayeuxMeta[])[0]!;
    expect(reply.successful).toBe(true);
    const connect = await postBayeux(
      sandbox,
      [
        {
          channel: '/meta/connect',
          clientId: reply.clientId,
          connectionType: 'websocket',
          id: '2',
        },
      ],
      token,
    );
    expect(connect.body).toEqual([
      expect.objectContaining({ successful: false, error: '400::Invalid connection type' }),
    ]);
  });

  it('refuses client publishes, oversized bodies and non-POST requests, and passes other paths on', async () => {
    const ok = await postBayeux(sandbox, [handshake], token);
    const { clientId } = (ok.body as BayeuxMeta[])[0]!;
    const publish = await postBayeux(
      sandbox,
      [{ channel: '/data/ContactChangeEvent', clientId, data: { forged: true }, id: '2' }],
      token,
    );
    expect(publish.body).toEqual([
      expect.objectContaining({ successful: false, error: expect.stringMatching(/^403::/) }),
    ]);

    const huge = JSON.stringify([{ ...handshake, ext: { pad: 'x'.repeat(40_000) } }]);
    expect((await postBayeux(sandbox, huge, token)).status).toBe(413);

    const get = await fetch(`${sandbox.instanceUrl}/cometd/62.0`, {
      headers: { Connection: 'close' },
    });
    expect(get.status).toBe(405);
    await get.text();

    const other = await postBayeux(sandbox, [handshake], token, '/services/data/v62.0/sobjects');
    expect(other.status).toBe(404);
    expect(sandbox.passedThrough).toEqual(['POST /services/data/v62.0/sobjects']);
  });

  it('answers the first connect at once, holds later ones, and answers held connects on close', async () => {
    const ok = await postBayeux(sandbox, [handshake], token);
    const { clientId } = (ok.body as BayeuxMeta[])[0]!;
    const connect = (id: string): Promise<{ status: number; body: BayeuxMeta[] | string }> =>
      postBayeux(
        sandbox,
        [{ channel: '/meta/connect', clientId, connectionType: 'long-polling', id }],
        token,
      );

    const startedFirst = Date.now();
    expect((await connect('2')).body).toEqual([expect.objectContaining({ successful: true })]);
    expect(Date.now() - startedFirst).toBeLessThan(1000);

    let held = false;
    const second = connect('3').then((res) => {
      held = true;
      return res;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(held).toBe(false);
    const startedClose = Date.now();
    await sandbox.control.close();
    expect((await second).body).toEqual([
      expect.objectContaining({ channel: '/meta/connect', successful: true }),
    ]);
    expect(Date.now() - startedClose).toBeLessThan(1000);
    expect(sandbox.control.clientCount()).toBe(0);
  });

  it('answers a faye-style unknown client as Salesforce does', async () => {
    const res = await postBayeux(
      sandbox,
      [{ channel: '/meta/connect', clientId: 'gone', connectionType: 'long-polling', id: '3' }],
      token,
    );
    expect(res.body).toEqual([
      expect.objectContaining({
        channel: '/meta/connect',
        successful: false,
        error: '403::Unknown client',
        advice: { reconnect: 'handshake', interval: 0 },
      }),
    ]);
  });
});
