/**
 * Salesforce source: Change Data Capture over CometD -> SalesforceContactChange records on the
 * contactChanges topic, the replay id kept durably. See docs/source-salesforce.md.
 */
export { SalesforceSource } from './salesforce-source';
export type { SalesforceSourceOptions } from './salesforce-source';
export { replayPositionName } from './org-stream';
export type { SalesforceSourceStatus, SourceState } from './org-stream';
