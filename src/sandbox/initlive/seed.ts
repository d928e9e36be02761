import { chance, createPrng, demoPeople, pick, seedFrom } from '../demo-people';
import type { DemoPeopleOptions } from '../demo-people';
import type { CustomAnswer, WritableStaffFields } from './model';

/**
 * Deterministic InitLive staff for the sandbox and tests, built on the shared demo people
 * (so a Salesforce sandbox seeded from the same seed and an overlapping offset holds contacts
 * with the same emails). Same (count, seed, offset) -> same staff, every time.
 */

export interface SeedStaff {
  fields: WritableStaffFields;
  /** Seeded directly, as if check-ins had happened before the sandbox started. */
  hoursWorked: number;
}

const tagPool = [
  'Greeter',
  'First Aid',
  'Usher',
  'Setup Crew',
  'Registration',
  'Photographer',
  'Driver',
  'Spanish Speaker',
  'Team Lead',
  'Kitchen',
  'Parking',
  'Bénévole',
];
const shirtSizes = ['XS', 'S', 'M', 'L', 'XL', 'XXL'];
const diets = ['none', 'vegetarian', 'vegan', 'halal', 'kosher', 'gluten-free'];

/** `count` staff from person `offset` (default 0) of `seed` (default 1). */
export function generateSeedStaff(count: number, options: DemoPeopleOptions = {}): SeedStaff[] {
  const seed = options.seed ?? 1;
  const people = demoPeople(count, { seed, offset: options.offset ?? 0 });
  const contacts = demoPeople(count, { seed: `${seed}:contacts`, offset: options.offset ?? 0 });
  return people.map((person, i) => {
    const prng = createPrng(seedFrom(`${seed}:staff:${person.index}`));
    const tags: string[] = [];
    const tagCount = Math.floor(prng() * 4);
    while (tags.length < tagCount) {
      const tag = pick(prng, tagPool);
      if (!tags.includes(tag)) tags.push(tag);
    }
    const emergency = contacts[i];
    const customAnswers: Record<string, CustomAnswer> = {
      tshirt_size: pick(prng, shirtSizes),
      dietary: pick(prng, diets),
      years_volunteering: Math.floor(prng() * 15),
      has_car: chance(prng, 0.6),
    };
    if (emergency && chance(prng, 0.7)) {
      customAnswers.emergency_contact = `${emergency.firstName} ${emergency.lastName}`;
    }
    return {
      fields: {
        firstName: person.firstName,
        lastName: person.lastName,
        email: person.email,
        phone: person.phone,
        mobilePhone: person.mobilePhone,
        address: chance(prng, 0.1) ? null : { ...person.address },
        birthdate: person.birthdate,
        tags,
        customAnswers,
        status: chance(prng, 0.05) ? 'archived' : 'active',
      },
      hoursWorked: Math.round(prng() * 800) / 4,
    };
  });
}
