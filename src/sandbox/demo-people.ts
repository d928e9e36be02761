/**
 * Deterministic fake people for the sandboxes and the demo: the same (seed, index) always
 * gives the same person, on any machine, so the InitLive and Salesforce sandboxes can seed
 * records that describe the same humans (same email) without talking to each other.
 *
 * Example: InitLive gets `demoPeople(100, { seed: 7 })` (people 0..99) and Salesforce gets
 * `demoPeople(80, { seed: 7, offset: 60 })` (people 60..139): people 60..99 are in both
 * systems with the same email, 0..59 only in InitLive and 100..139 only in Salesforce.
 *
 * Names include accents and non-Latin scripts (José Núñez, Zoë, 李, 田中) on purpose: the
 * sync must carry them through Avro, Redis and both APIs unchanged. Emails use reserved
 * example domains and are ASCII; about 8% of people have none.
 */

/** A small, fast, seeded PRNG (mulberry32). Returns floats in [0, 1). */
export type Prng = () => number;

/** Folds a string or number into a 32-bit seed. */
export function seedFrom(value: string | number): number {
  const text = String(value);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A PRNG seeded by a number (used as is) or a string (hashed with `seedFrom`). */
export function createPrng(seed: string | number): Prng {
  let state = typeof seed === 'number' ? seed >>> 0 : seedFrom(seed);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Picks one element; the list must not be empty. */
export function pick<T>(prng: Prng, items: readonly T[]): T {
  const item = items[Math.floor(prng() * items.length)];
  if (item === undefined) throw new Error('pick() needs a non-empty list');
  return item;
}

/** True with the given probability (0..1). */
export function chance(prng: Prng, probability: number): boolean {
  return prng() < probability;
}

export interface DemoAddress {
  street: string;
  city: string;
  region: string | null;
  postalCode: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
}

export interface DemoPerson {
  /** Position in the seed's sequence; people with equal (seed, index) are identical. */
  index: number;
  firstName: string;
  lastName: string;
  /** Unique per (seed, index); null for about 8% of people. */
  email: string | null;
  phone: string | null;
  mobilePhone: string | null;
  address: DemoAddress;
  /** `YYYY-MM-DD`; null for about 5% of people. */
  birthdate: string | null;
}

export interface DemoPeopleOptions {
  seed?: string | number;
  /** Index of the first person; lets two systems share a slice of the same people. */
  offset?: number;
}

// [as written, ASCII form for the email address]
const firstNames: ReadonlyArray<readonly [string, string]> = [
  ['Dana', 'dana'],
  ['José', 'jose'],
  ['Zoë', 'zoe'],
  ['Chloé', 'chloe'],
  ['François', 'francois'],
  ['Søren', 'soren'],
  ['Łukasz', 'lukasz'],
  ['Ngọc', 'ngoc'],
  ['Åsa', 'asa'],
  ['Siobhán', 'siobhan'],
  ['Aisha', 'aisha'],
  ['Mateo', 'mateo'],
  ['Priya', 'priya'],
  ['Olamide', 'olamide'],
  ['Hannah', 'hannah'],
  ['Liam', 'liam'],
  ['Noah', 'noah'],
  ['Emma', 'emma'],
  ['Sofía', 'sofia'],
  ['Wei', 'wei'],
  ['Yuki', 'yuki'],
  ['Björn', 'bjorn'],
  ['Renée', 'renee'],
  ['Inès', 'ines'],
  ['Kai', 'kai'],
  ['Marisol', 'marisol'],
  ['Dmitri', 'dmitri'],
  ['Fatima', 'fatima'],
  ['Grace', 'grace'],
  ['Omar', 'omar'],
  ['Lucía', 'lucia'],
  ['明', 'ming'],
  ['陽菜', 'hina'],
  ['Jamal', 'jamal'],
  ['Ana', 'ana'],
  ['Thomas', 'thomas'],
  ['Eliza', 'eliza'],
  ['Mary-Kate', 'marykate'],
];

const lastNames: ReadonlyArray<readonly [string, string]> = [
  ['Núñez', 'nunez'],
  ['Lee', 'lee'],
  ['李', 'li'],
  ['田中', 'tanaka'],
  ['Müller', 'muller'],
  ["O'Brien", 'obrien'],
  ['García', 'garcia'],
  ['Nguyễn', 'nguyen'],
  ['Kowalski', 'kowalski'],
  ['Smith', 'smith'],
  ['Johnson', 'johnson'],
  ['Okafor', 'okafor'],
  ['Patel', 'patel'],
  ['Dubois', 'dubois'],
  ['Hernández', 'hernandez'],
  ['Chen', 'chen'],
  ['Kim', 'kim'],
  ['Andersson', 'andersson'],
  ['Rossi', 'rossi'],
  ['Brown', 'brown'],
  ['Williams', 'williams'],
  ['Martínez', 'martinez'],
  ['Schmidt', 'schmidt'],
  ['Wójcik', 'wojcik'],
  ['Haddad', 'haddad'],
  ['Murphy', 'murphy'],
  ['Jensen', 'jensen'],
  ['Silva', 'silva'],
  ['van der Berg', 'vanderberg'],
  ['Ó Súilleabháin', 'osuilleabhain'],
];

const streetNames = [
  'Howard St',
  'Market St',
  'Valencia St',
  'Oak Ave',
  'Maple Dr',
  'Cedar Ln',
  'Elm St',
  'Lakeview Rd',
  'Sunset Blvd',
  'Pine St',
  'Mission St',
  'Broadway',
];

interface Place {
  city: string;
  region: string | null;
  postal: (prng: Prng) => string;
  country: string;
  phone: (prng: Prng) => string;
  street?: (prng: Prng) => string;
}

const digits = (prng: Prng, count: number): string =>
  Array.from({ length: count }, () => Math.floor(prng() * 10)).join('');
// 555-01xx numbers are reserved for fiction in North America.
const naPhone = (areas: readonly string[]) => (prng: Prng) =>
  `+1 ${pick(prng, areas)} 555 01${digits(prng, 2)}`;
const usZip = (prefix: string) => (prng: Prng) => prefix + digits(prng, 2);

const places: readonly Place[] = [
  {
    city: 'San Francisco',
    region: 'CA',
    postal: usZip('941'),
    country: 'US',
    phone: naPhone(['415', '628']),
  },
  { city: 'Oakland', region: 'CA', postal: usZip('946'), country: 'US', phone: naPhone(['510']) },
  { city: 'Seattle', region: 'WA', postal: usZip('981'), country: 'US', phone: naPhone(['206']) },
  { city: 'Austin', region: 'TX', postal: usZip('787'), country: 'US', phone: naPhone(['512']) },
  {
    city: 'Chicago',
    region: 'IL',
    postal: usZip('606'),
    country: 'US',
    phone: naPhone(['312', '773']),
  },
  {
    city: 'Brooklyn',
    region: 'NY',
    postal: usZip('112'),
    country: 'US',
    phone: naPhone(['718', '347']),
  },
  { city: 'Denver', region: 'CO', postal: usZip('802'), country: 'US', phone: naPhone(['303']) },
  { city: 'Boston', region: 'MA', postal: usZip('021'), country: 'US', phone: naPhone(['617']) },
  { city: 'Portland', region: 'OR', postal: usZip('972'), country: 'US', phone: naPhone(['503']) },
  {
    city: 'Toronto',
    region: 'ON',
    postal: () => 'M5V 2T6',
    country: 'CA',
    phone: naPhone(['416']),
  },
  {
    city: 'Montréal',
    region: 'QC',
    postal: () => 'H2X 1Y4',
    country: 'CA',
    phone: naPhone(['514']),
  },
  // Ofcom reserves 020 7946 0xxx for drama.
  {
    city: 'London',
    region: null,
    postal: () => 'SW1A 1AA',
    country: 'GB',
    phone: (p) => `+44 20 7946 0${digits(p, 3)}`,
  },
  {
    city: 'Paris',
    region: 'Île-de-France',
    postal: () => '75011',
    country: 'FR',
    phone: (p) => `+33 1 99 00 ${digits(p, 2)} ${digits(p, 2)}`,
  },
  {
    city: 'Köln',
    region: 'NRW',
    postal: () => '50667',
    country: 'DE',
    phone: (p) => `+49 221 ${digits(p, 7)}`,
  },
  {
    city: '東京',
    region: '東京都',
    postal: () => '100-0001',
    country: 'JP',
    phone: (p) => `+81 3 ${digits(p, 4)} ${digits(p, 4)}`,
    street: (p) => `千代田${1 + Math.floor(p() * 9)}-${1 + Math.floor(p() * 20)}`,
  },
  {
    city: 'Ciudad de México',
    region: 'CDMX',
    postal: () => '06700',
    country: 'MX',
    phone: (p) => `+52 55 ${digits(p, 4)} ${digits(p, 4)}`,
  },
];
// Weighted towards the US, as most InitLive organizations are North American.
const placeWeights = places.map((p) => (p.country === 'US' ? 6 : 1));
const placeWeightTotal = placeWeights.reduce((a, b) => a + b, 0);

function pickPlace(prng: Prng): Place {
  let r = prng() * placeWeightTotal;
  for (const [i, place] of places.entries()) {
    r -= placeWeights[i] ?? 0;
    if (r < 0) return place;
  }
  return pick(prng, places);
}

const emailDomains = ['example.org', 'example.com', 'example.net'];

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function birthdate(prng: Prng): string {
  const year = 1950 + Math.floor(prng() * 58);
  const month = 1 + Math.floor(prng() * 12);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const day = 1 + Math.floor(prng() * daysInMonth);
  return `${year}-${pad(month, 2)}-${pad(day, 2)}`;
}

/**
 * Person number `index` of `seed`. Pure: depends on nothing but its arguments. Emails carry
 * the index, so they are unique within a seed.
 */
export function demoPerson(index: number, seed: string | number = 1): DemoPerson {
  const prng = createPrng(seedFrom(`${seed}:${index}`));
  const [firstName, firstAscii] = pick(prng, firstNames);
  const [lastName, lastAscii] = pick(prng, lastNames);
  const place = pickPlace(prng);
  const email = chance(prng, 0.08)
    ? null
    : `${firstAscii}.${lastAscii}${index}@${pick(prng, emailDomains)}`;
  const phone = chance(prng, 0.1) ? null : place.phone(prng);
  const mobilePhone = chance(prng, 0.4) ? null : place.phone(prng);
  const street = place.street
    ? place.street(prng)
    : `${1 + Math.floor(prng() * 2500)} ${pick(prng, streetNames)}`;
  return {
    index,
    firstName,
    lastName,
    email,
    phone,
    mobilePhone,
    address: {
      street,
      city: place.city,
      region: place.region,
      postalCode: place.postal(prng),
      country: place.country,
    },
    birthdate: chance(prng, 0.05) ? null : birthdate(prng),
  };
}

/** `count` people starting at `offset` (default 0) of `seed` (default 1). */
export function demoPeople(count: number, options: DemoPeopleOptions = {}): DemoPerson[] {
  const offset = options.offset ?? 0;
  return Array.from({ length: count }, (_, i) => demoPerson(offset + i, options.seed ?? 1));
}
