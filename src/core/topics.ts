import type { RecordTypeName } from './records';

/**
 * The connector's topics, in data-flow order. Each carries one record type; keys are
 * `<orgId>/<recordId>` (changes) or `<orgId>/<pairId>` (writes), so every change to one record
 * lands on one partition and keeps its order.
 */
export const topicRoles = {
  staffChanges: 'InitLiveStaffChange',
  contactChanges: 'SalesforceContactChange',
  salesforceWrites: 'SalesforceWrite',
  initliveWrites: 'InitLiveWrite',
  deadLetters: 'DeadLetter',
  syncRuns: 'SyncRunEvent',
  outcomes: 'SyncOutcome',
} as const satisfies Record<string, RecordTypeName>;

export type TopicRole = keyof typeof topicRoles;

const suffixes: Record<TopicRole, string> = {
  staffChanges: 'initlive.staff-changes',
  contactChanges: 'salesforce.contact-changes',
  salesforceWrites: 'salesforce.writes',
  initliveWrites: 'initlive.writes',
  deadLetters: 'dead-letters',
  syncRuns: 'sync-runs',
  outcomes: 'sync-outcomes',
};

export type TopicNames = Record<TopicRole, string>;

export function topicNames(prefix: string): TopicNames {
  return Object.fromEntries(
    (Object.keys(suffixes) as TopicRole[]).map((role) => [role, `${prefix}.${suffixes[role]}`]),
  ) as TopicNames;
}

/** Record key: organization first, so one organization's records never mix keys with another's. */
export function recordKey(orgId: string, id: string): string {
  return `${orgId}/${id}`;
}
