import { demoPeople, type DemoPeopleOptions } from './demo-people';

/**
 * Demo Contacts for the Salesforce sandbox, drawn from the same people as the InitLive seed:
 * with `offset` inside the staff range, those people exist on both sides with the same email,
 * which is what the connector's email linking has to find.
 */
export function demoContacts(
  count: number,
  options: DemoPeopleOptions = {},
): Array<Record<string, string | null>> {
  return demoPeople(count, options).map((p) => ({
    FirstName: p.firstName,
    LastName: p.lastName,
    Email: p.email,
    Phone: p.phone,
    MobilePhone: p.mobilePhone,
    MailingStreet: p.address.street,
    MailingCity: p.address.city,
    MailingState: p.address.region,
    MailingPostalCode: p.address.postalCode,
    MailingCountry: p.address.country,
    Birthdate: p.birthdate,
  }));
}
