/**
 * Salesforce sandbox: emulated orgs on one server (OAuth, REST, Bulk API 2.0, CDC over CometD) used by
 * the demo mode and the tests. See docs/sandbox.md for what is emulated and where it differs.
 */
export { startSalesforceSandbox } from './server';
export type { SalesforceSandbox, SalesforceSandboxOptions, SandboxOrg } from './server';
export type { NewOrgOptions } from './org-registry';
export type { OrgCredentials } from './control';
export type { SandboxControl, SandboxCounters, GapType } from './control';
export type { ContactRecord, ContactWriteEvent, WriteListener } from './model';
export { loadSalesforcePackage } from './package-source';
export type { SalesforcePackage } from './package-source';
export type { CustomFieldMetadata } from './field-metadata';
