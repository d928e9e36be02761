import { createPrng, demoPeople, demoPerson } from '../../src/sandbox/demo-people';
import { generateSeedStaff } from '../../src/sandbox/initlive';
import { isCalendarDate, parseStaffWrite } from '../../src/sandbox/initlive/validation';

describe('demo people and InitLive seed staff', () => {
  it('gives the same people for the same seed, and different people for another seed', () => {
    expect(demoPeople(50, { seed: 7 })).toEqual(demoPeople(50, { seed: 7 }));
    expect(demoPeople(50, { seed: 7 })).not.toEqual(demoPeople(50, { seed: 8 }));
    const a = createPrng('x');
    const b = createPrng('x');
    expect(Array.from({ length: 5 }, a)).toEqual(Array.from({ length: 5 }, b));
  });

  it('lets two systems share a slice of people by offset (same emails)', () => {
    const staff = demoPeople(100, { seed: 7 });
    const contacts = demoPeople(80, { seed: 7, offset: 60 });
    const staffEmails = new Set(staff.map((p) => p.email).filter((e) => e !== null));
    const shared = contacts.filter((c) => c.email !== null && staffEmails.has(c.email));
    expect(shared.map((c) => c.index)).toEqual(
      contacts.filter((c) => c.index < 100 && c.email !== null).map((c) => c.index),
    );
    expect(shared.length).toBeGreaterThan(25);
    expect(demoPerson(75, 7)).toEqual(contacts[15]);
  });

  it('produces unique emails, some null ones, Unicode names and valid dates', () => {
    const people = demoPeople(2000, { seed: 'mix' });
    const emails = people.map((p) => p.email).filter((e): e is string => e !== null);
    expect(new Set(emails.map((e) => e.toLowerCase())).size).toBe(emails.length);
    expect(people.length - emails.length).toBeGreaterThan(50);
    const names = people.map((p) => `${p.firstName} ${p.lastName}`).join('|');
    expect(names).toMatch(/[À-ž]/);
    expect(names).toMatch(/[\u4e00-\u9fff]/);
    for (const p of people) {
      if (p.birthdate !== null) expect(isCalendarDate(p.birthdate)).toBe(true);
      expect(p.email === null || /^[\x21-\x7e]+@example\.(org|com|net)$/.test(p.email)).toBe(true);
    }
  });

  it('generates seed staff that pass the API validation as they are', () => {
    const seeded = generateSeedStaff(500, { seed: 3 });
    expect(seeded).toEqual(generateSeedStaff(500, { seed: 3 }));
    for (const { fields, hoursWorked } of seeded) {
      expect(parseStaffWrite(fields, 'create')).toEqual(fields);
      expect(hoursWorked).toBeGreaterThanOrEqual(0);
    }
    const statuses = new Set(seeded.map((s) => s.fields.status));
    expect(statuses).toEqual(new Set(['active', 'archived']));
    expect(seeded.some((s) => s.fields.tags.length > 0)).toBe(true);
    expect(seeded.some((s) => s.fields.address === null)).toBe(true);
  });
});
