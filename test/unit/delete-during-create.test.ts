import { eventually, startE2E, type E2E } from '../fixtures/e2e';

/**
 * A volunteer deleted in InitLive while the connector is still creating their Contact (found by
 * the chaos run: the same person entered in both systems, then deleted at once). The deletion
 * was decided against a pair with no Contact yet and wrote nothing, so the Contact the create
 * then linked stayed active.
 */
describe('a deletion decided while the counterpart is being created', () => {
  let e: E2E;

  afterEach(async () => {
    await e?.close();
  });

  it('marks the Contact the create made or found, once it lands', async () => {
    e = await startE2E({ direction: 'two_way', defaultSystem: 'initlive' });
    // Someone entered the person in Salesforce too, unheard by the stream (as after a lost
    // state store); every call is slow, so the create (an email lookup, then the write) is
    // still on its way when the volunteer is deleted.
    e.sf.control.setChangeDataCapture(false);
    const contact = e.sf.control.createContact({ LastName: 'Both', Email: 'both@example.org' });
    e.sf.control.setChangeDataCapture(true);
    e.sf.control.setLatencyMs(1_500);
    const staff = e.il.control.createStaff({
      firstName: 'Bo',
      lastName: 'Both',
      email: 'both@example.org',
    });
    await new Promise((r) => setTimeout(r, 300));
    e.il.control.deleteStaff(staff.id);
    await eventually(() => {
      const now = e.sf.control.getContact(String(contact.Id));
      expect(now?.InitLive_Staff_Id__c).toBe(staff.id);
      expect(now?.InitLive_Status__c).toBe('deleted');
    }, 20_000);
    expect(e.sf.control.listContacts()).toHaveLength(1);
  });
});
