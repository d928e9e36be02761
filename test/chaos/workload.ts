import type { InitLiveSandbox } from '../../src/sandbox/initlive';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import type { Prng } from './prng';

type Side = 'initlive' | 'salesforce';
type StaffRecord = ReturnType<InitLiveSandbox['control']['listStaff']>[number];
type Contact = ReturnType<SalesforceSandbox['control']['listContacts']>[number];

export interface Values {
  firstName: string;
  lastName: string;
  phone: string | null;
}

/**
 * One person as the model knows them: what each side must end with under two-way sync with
 * InitLive as the default system. Regular edits come from one side (the owner); a record both
 * sides edit at the same moment (a conflict) is then left alone, so the expected outcome never
 * depends on timing.
 */
export interface Person {
  key: number;
  owner: Side;
  email: string;
  ilId: string | null;
  sfId: string | null;
  values: Values;
  fate: 'active' | 'archived' | 'il-deleted' | 'sf-deleted';
  frozen: boolean;
  /** Made to be refused by the other side: it must end as one dead letter, and nowhere else. */
  bad: null | 'refused-by-salesforce' | 'refused-by-initlive';
  /** When the model last changed them (epoch ms), to tell findings near a fault apart. */
  lastChangeAt: number;
  /** What the workload did to them, in order (`<ms> <what>`), to replay a finding. */
  history: string[];
}

/** A change waiting to be seen on the other side, for latency. */
interface Expectation {
  person: Person;
  t0: number;
  seen: (view: View) => boolean;
}

export interface LatencySample {
  t0: number;
  ms: number;
}

export type OpKind =
  | 'create-initlive'
  | 'create-salesforce'
  | 'update'
  | 'conflict'
  | 'archive'
  | 'delete-initlive'
  | 'delete-salesforce'
  | 'shared-email'
  | 'bad-initlive'
  | 'bad-salesforce';

const MIX: Array<[OpKind, number]> = [
  ['create-initlive', 16],
  ['create-salesforce', 13],
  ['update', 44],
  ['conflict', 6],
  ['archive', 3],
  ['delete-initlive', 3],
  ['delete-salesforce', 3],
  ['shared-email', 5],
  ['bad-initlive', 1],
  ['bad-salesforce', 1],
];
const MAX_BAD_PER_SIDE = 3;

/** A snapshot of both systems, indexed the ways the model looks records up. */
export class View {
  readonly staffById = new Map<string, StaffRecord>();
  readonly staffByEmail = new Map<string, StaffRecord[]>();
  readonly contactById = new Map<string, Contact>();
  readonly contactsByStaffId = new Map<string, Contact[]>();
  readonly contactsByEmail = new Map<string, Contact[]>();

  constructor(
    readonly staff: StaffRecord[],
    readonly contacts: Contact[],
  ) {
    for (const s of staff) {
      this.staffById.set(s.id, s);
      if (s.email) push(this.staffByEmail, s.email.toLowerCase(), s);
    }
    for (const c of contacts) {
      this.contactById.set(String(c.Id), c);
      if (c.InitLive_Staff_Id__c) push(this.contactsByStaffId, String(c.InitLive_Staff_Id__c), c);
      if (c.Email) push(this.contactsByEmail, String(c.Email).toLowerCase(), c);
    }
  }

  static of(il: InitLiveSandbox, sf: SalesforceSandbox): View {
    return new View(il.control.listStaff(), sf.control.listContacts());
  }

  staffOf(p: Person): StaffRecord | undefined {
    if (p.ilId) return this.staffById.get(p.ilId);
    const found = this.staffByEmail.get(p.email) ?? [];
    return found.length === 1 ? found[0] : undefined;
  }

  contactOf(p: Person): Contact | undefined {
    if (p.sfId) return this.contactById.get(p.sfId);
    const byLink = p.ilId ? (this.contactsByStaffId.get(p.ilId) ?? []) : [];
    if (byLink.length === 1) return byLink[0];
    const byEmail = this.contactsByEmail.get(p.email) ?? [];
    return byEmail.length === 1 ? byEmail[0] : undefined;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

const sameText = (a: unknown, b: unknown): boolean => (a ?? null) === (b ?? null);

/** Whether the person's staff member holds the model's values (status included). */
export function staffMatches(p: Person, s: StaffRecord | undefined): boolean {
  if (!s) return false;
  const status = p.fate === 'active' ? 'active' : 'archived';
  return (
    s.firstName === p.values.firstName &&
    s.lastName === p.values.lastName &&
    sameText(s.phone, p.values.phone) &&
    (s.email ?? '').toLowerCase() === p.email &&
    s.status === status
  );
}

export function contactMatches(p: Person, c: Contact | undefined): boolean {
  if (!c) return false;
  const status =
    p.fate === 'il-deleted' ? 'deleted' : p.fate === 'archived' ? 'archived' : 'active';
  const statusOk =
    c.InitLive_Status__c === status || (status === 'active' && c.InitLive_Status__c == null);
  return (
    c.FirstName === p.values.firstName &&
    c.LastName === p.values.lastName &&
    sameText(c.Phone, p.values.phone) &&
    String(c.Email ?? '').toLowerCase() === p.email &&
    statusOk
  );
}

/**
 * The seeded stream of changes made on both sides, as people do in the UIs (directly in the
 * sandboxes), and the model of what both sides must end with.
 */
export class Workload {
  readonly people: Person[] = [];
  readonly opsByKind: Partial<Record<OpKind, number>> = {};
  /** Changes made on either side (a conflict is two). */
  changes = 0;
  readonly latencies: LatencySample[] = [];
  private pending: Expectation[] = [];
  private counter = 0;
  private bad = { initlive: 0, salesforce: 0 };

  constructor(
    private readonly rng: Prng,
    private readonly il: InitLiveSandbox,
    private readonly sf: SalesforceSandbox,
    private readonly tag: string,
  ) {}

  private next(): number {
    return ++this.counter;
  }

  private newPerson(owner: Side): Person {
    const key = this.next();
    const person: Person = {
      key,
      owner,
      email: `p${key}.${this.tag}@chaos.test`,
      ilId: null,
      sfId: null,
      values: {
        firstName: this.rng.pick(['Ana', 'Ben', 'Cleo', 'Dev', 'Eve', 'Finn', 'Gia', 'Hugo']),
        lastName: `L${key}`,
        phone: this.rng.chance(0.7) ? `+1 555 ${1000 + key}` : null,
      },
      fate: 'active',
      frozen: false,
      bad: null,
      lastChangeAt: Date.now(),
      history: [],
    };
    this.people.push(person);
    return person;
  }

  private createOn(side: Side, p: Person, withPhone = true): void {
    const v = p.values;
    if (side === 'initlive') {
      const s = this.il.control.createStaff({
        firstName: v.firstName,
        lastName: v.lastName,
        email: p.email,
        phone: withPhone ? v.phone : null,
      });
      p.ilId = s.id;
    } else {
      const c = this.sf.control.createContact({
        FirstName: v.firstName,
        LastName: v.lastName,
        Email: p.email,
        Phone: withPhone ? v.phone : null,
      });
      p.sfId = String(c.Id);
    }
    note(p, `create on ${side}: ${JSON.stringify({ ...v, phone: withPhone ? v.phone : null })}`);
    this.changes++;
  }

  /** People on both sides before the connection: some on one, some on both (same email). */
  seed(perSide: number, shared: number): void {
    for (let i = 0; i < perSide; i++) this.createOn('initlive', this.newPerson('initlive'));
    for (let i = 0; i < perSide; i++) this.createOn('salesforce', this.newPerson('salesforce'));
    for (let i = 0; i < shared; i++) {
      const p = this.newPerson('initlive');
      this.createOn('initlive', p);
      this.createOn('salesforce', p);
    }
  }

  private expect(p: Person, seen: (view: View) => boolean, t0 = Date.now()): void {
    // A newer change to the same person supersedes what an older one waited for.
    this.pending = this.pending.filter((e) => e.person !== p);
    this.pending.push({ person: p, t0, seen });
    p.lastChangeAt = t0;
  }

  /**
   * Whether the connector has linked the person's two records. A deletion, archive or conflict
   * is made only then: before it, what the right end state is depends on timing (a volunteer
   * deleted before their Contact was linked may meet a Contact that has already been given a new
   * volunteer), as for the conflicts above.
   */
  private linked(view: View, p: Person): boolean {
    const contact = view.contactOf(p);
    const staff = view.staffOf(p);
    return !!contact && !!staff && contact.InitLive_Staff_Id__c === staff.id;
  }

  private candidates(filter: (p: Person) => boolean): Person[] {
    return this.people.filter(
      (p) => !p.frozen && p.bad === null && p.fate === 'active' && filter(p),
    );
  }

  /** One change, chosen by the mix; returns what it did (or null when nothing fitted). */
  step(view: View): OpKind | null {
    const kind = this.rng.weighted(MIX);
    const done = this.apply(kind, view);
    if (done) this.opsByKind[kind] = (this.opsByKind[kind] ?? 0) + 1;
    return done ? kind : null;
  }

  private apply(kind: OpKind, view: View): boolean {
    switch (kind) {
      case 'create-initlive':
      case 'create-salesforce': {
        const side: Side = kind === 'create-initlive' ? 'initlive' : 'salesforce';
        const p = this.newPerson(side);
        this.createOn(side, p);
        this.expect(p, (v) =>
          side === 'initlive' ? contactMatches(p, v.contactOf(p)) : staffMatches(p, v.staffOf(p)),
        );
        return true;
      }
      case 'update': {
        const list = this.candidates(() => true);
        if (list.length === 0) return false;
        const p = this.rng.pick(list);
        const key = this.next();
        const fields = this.rng.subset(['firstName', 'lastName', 'phone'] as const);
        for (const f of fields) {
          if (f === 'firstName') p.values.firstName = `F${key}`;
          if (f === 'lastName') p.values.lastName = `L${key}`;
          if (f === 'phone') p.values.phone = this.rng.chance(0.15) ? null : `+1 555 ${key}`;
        }
        this.writeOwnerSide(p, fields);
        return true;
      }
      case 'conflict': {
        // InitLive-owned and linked: both sides change the same fields at the same moment.
        const list = this.candidates((p) => p.owner === 'initlive' && this.linked(view, p));
        if (list.length === 0) return false;
        const p = this.rng.pick(list);
        const contact = view.contactOf(p)!;
        const key = this.next();
        p.values.lastName = `IL${key}`;
        // Its own exchange: a create's `+1 555 ${1000 + k}` may equal `+1 555 ${key}`, and an
        // InitLive "edit" to the phone it has is no edit, so Salesforce's phone rightly wins.
        p.values.phone = `+1 557 ${key}`;
        this.il.control.updateStaff(p.ilId!, {
          lastName: p.values.lastName,
          phone: p.values.phone,
        });
        this.sf.control.updateContact(String(contact.Id), {
          LastName: `SF${key}`,
          Phone: `+1 666 ${key}`,
        });
        note(p, `conflict: initlive ${p.values.lastName} / salesforce SF${key}`);
        this.changes += 2;
        p.frozen = true;
        this.expect(p, (v) => contactMatches(p, v.contactOf(p)) && staffMatches(p, v.staffOf(p)));
        return true;
      }
      case 'archive':
      case 'delete-initlive': {
        const list = this.candidates((p) => p.owner === 'initlive' && this.linked(view, p));
        if (list.length === 0) return false;
        const p = this.rng.pick(list);
        p.sfId = String(view.contactOf(p)!.Id);
        if (kind === 'archive') {
          this.il.control.archiveStaff(p.ilId!);
          p.fate = 'archived';
        } else {
          this.il.control.deleteStaff(p.ilId!);
          p.fate = 'il-deleted';
        }
        note(p, p.fate);
        this.changes++;
        p.frozen = true;
        this.expect(p, (v) => contactMatches(p, v.contactOf(p)));
        return true;
      }
      case 'delete-salesforce': {
        const list = this.candidates((p) => p.owner === 'salesforce' && this.linked(view, p));
        if (list.length === 0) return false;
        const p = this.rng.pick(list);
        p.ilId = view.staffOf(p)!.id;
        this.sf.control.deleteContact(p.sfId!);
        p.fate = 'sf-deleted';
        note(p, p.fate);
        this.changes++;
        p.frozen = true;
        this.expect(p, (v) => staffMatches(p, v.staffOf(p)));
        return true;
      }
      case 'shared-email': {
        // The same new person entered in both systems at once; only InitLive has a phone.
        const p = this.newPerson('initlive');
        if (p.values.phone === null) p.values.phone = `+1 555 ${p.key}`;
        this.createOn('initlive', p);
        this.createOn('salesforce', p, false);
        this.expect(p, (v) => contactMatches(p, v.contactOf(p)));
        return true;
      }
      case 'bad-initlive':
      case 'bad-salesforce': {
        const side: Side = kind === 'bad-initlive' ? 'initlive' : 'salesforce';
        if (this.bad[side] >= MAX_BAD_PER_SIDE) return false;
        this.bad[side]++;
        const p = this.newPerson(side);
        p.frozen = true;
        if (side === 'initlive') {
          // Valid in InitLive (254), too long for Contact.Email (80).
          p.email = `${'x'.repeat(70)}.p${p.key}.${this.tag}@chaos.test`;
          p.bad = 'refused-by-salesforce';
          this.createOn('initlive', p);
        } else {
          // Salesforce takes any text as a phone; InitLive wants digits.
          p.values.phone = 'n/a';
          p.bad = 'refused-by-initlive';
          this.createOn('salesforce', p);
        }
        return true;
      }
    }
  }

  private writeOwnerSide(
    p: Person,
    fields: ReadonlyArray<'firstName' | 'lastName' | 'phone'>,
  ): void {
    const v = p.values;
    if (p.owner === 'initlive') {
      const patch: Record<string, unknown> = {};
      for (const f of fields) patch[f] = v[f];
      this.il.control.updateStaff(p.ilId!, patch);
      this.expect(p, (view) => contactMatches(p, view.contactOf(p)));
    } else {
      const patch: Record<string, unknown> = {};
      for (const f of fields) {
        patch[f === 'firstName' ? 'FirstName' : f === 'lastName' ? 'LastName' : 'Phone'] = v[f];
      }
      this.sf.control.updateContact(p.sfId!, patch);
      this.expect(p, (view) => staffMatches(p, view.staffOf(p)));
    }
    note(
      p,
      `update on ${p.owner}: ${JSON.stringify(Object.fromEntries(fields.map((f) => [f, v[f]])))}`,
    );
    this.changes++;
  }

  /** Records the latency of every change now seen on the other side. */
  observe(view: View, now = Date.now()): void {
    this.pending = this.pending.filter((e) => {
      if (!e.seen(view)) return true;
      this.latencies.push({ t0: e.t0, ms: now - e.t0 });
      return false;
    });
  }

  /** Changes not yet seen on the other side. */
  waiting(): number {
    return this.pending.length;
  }
}

function note(p: Person, what: string): void {
  p.history.push(`${Date.now()} ${what}`);
}
