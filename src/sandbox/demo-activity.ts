import type { Logger } from '../logger';
import type { Sandboxes } from './start-sandboxes';

export interface DemoActivityOptions {
  orgId: string;
  /** Edits per minute, alternating between the two sandboxes. */
  perMinute: number;
  logger: Logger;
  /** Default Math.random; tests pass their own. */
  random?: () => number;
}

/**
 * People at work in the two sandboxes, so a demo deployment (docker-compose.yml) shows changes
 * flowing on its dashboard: in InitLive a volunteer checks in (hours worked go up) or changes
 * their phone; in Salesforce someone edits a Contact's mobile phone, as a UI user would. Each
 * edit goes through the sandboxes' own control surfaces, so the connector sees it exactly as it
 * sees any other change. Returns the function that stops it.
 */
export function startDemoActivity(sandboxes: Sandboxes, options: DemoActivityOptions): () => void {
  const random = options.random ?? Math.random;
  const pick = <T>(items: readonly T[]): T | undefined =>
    items[Math.floor(random() * items.length)];
  const phone = (): string =>
    `+1 604 555 ${String(Math.floor(random() * 10_000)).padStart(4, '0')}`;
  let tick = 0;
  const edit = (): void => {
    tick++;
    try {
      if (tick % 2 === 1) {
        const il = sandboxes.initlive.control;
        const staff = pick(
          il.listStaff({ orgId: options.orgId }).filter((s) => s.status === 'active'),
        );
        if (!staff) return;
        if (tick % 4 === 1) {
          il.setHoursWorked(staff.id, staff.hoursWorked + 1 + Math.floor(random() * 4), {
            orgId: options.orgId,
          });
        } else {
          il.updateStaff(staff.id, { phone: phone() }, { orgId: options.orgId });
        }
      } else {
        const sf = sandboxes.salesforce.control;
        const contact = pick(sf.listContacts());
        if (contact) sf.updateContact(String(contact.Id), { MobilePhone: phone() });
      }
    } catch (err) {
      // A demo edit that fails (a record archived meanwhile) is skipped, not fatal.
      options.logger.debug('demo activity edit skipped', { err: String(err) });
    }
  };
  const timer = setInterval(edit, Math.max(10, Math.round(60_000 / options.perMinute)));
  timer.unref();
  return () => clearInterval(timer);
}
