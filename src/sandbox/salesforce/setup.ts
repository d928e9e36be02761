import { RecordFault } from './api-fault';
import { FieldMetadataError, developerNameOf, fieldDefFromMetadata } from './field-metadata';
import type { CustomFieldMetadata } from './field-metadata';
import { KeyPrefix } from './ids';
import type { IdGenerator } from './ids';
import type { SalesforcePackage } from './package-source';
import type { FieldDef } from './schema';
import type { ContactStore } from './store';

/** A Contact custom field as the Tooling API's CustomField object shows it. */
export interface CustomFieldRecord {
  id: string;
  /** `T_Shirt_Size__c`. */
  name: string;
  metadata: CustomFieldMetadata;
  /** Came with the package (removed when it is uninstalled). */
  packaged: boolean;
}

/** A Change Data Capture selection (Tooling API PlatformEventChannelMember). */
export interface ChannelMemberRecord {
  id: string;
  /** `ChangeEvents_ContactChangeEvent`. */
  developerName: string;
  eventChannel: string;
  selectedEntity: string;
  packaged: boolean;
}

export interface PermissionSetRecord {
  id: string;
  name: string;
  label: string;
}

export interface SetupSnapshot {
  packageInstalled: boolean;
  customFields: Array<Omit<CustomFieldRecord, 'packaged'>>;
  /** Every selection, the package's included (an admin may have removed one). */
  channelMembers: ChannelMemberRecord[];
}

/** The standard channel's selection of Contact: what `/data/ContactChangeEvent` needs. */
export const CONTACT_SELECTION = {
  eventChannel: 'ChangeEvents',
  selectedEntity: 'ContactChangeEvent',
};

/**
 * The org's setup, as far as the connector meets it: whether the InitLive package is installed
 * (its Contact fields, permission set and CDC selection), Contact custom fields created through
 * the Tooling API, and which entities Change Data Capture publishes. Package components come from
 * the package's source files (see package-source.ts); nothing here restates them.
 */
export class OrgSetup {
  private fields = new Map<string, CustomFieldRecord>();
  private members = new Map<string, ChannelMemberRecord>();
  private permSets: PermissionSetRecord[] = [];
  /** Permission set id -> assignee user ids. */
  private assignments = new Map<string, Set<string>>();
  private installed = false;

  constructor(
    private readonly store: ContactStore,
    private readonly ids: IdGenerator,
    /** The package's source, when the sandbox has one to install. */
    readonly pkg: SalesforcePackage | null,
    /** The org's user: the package's permission set is assigned to it when installed. */
    private readonly userId: string,
  ) {}

  get packageInstalled(): boolean {
    return this.installed;
  }

  /**
   * Deploys the package: its fields (empty), its permission set (assigned to the org's user,
   * as the setup guide does) and its CDC selection. Without a package source, nothing happens.
   */
  installPackage(options: { changeDataCapture?: boolean } = {}): void {
    const pkg = this.pkg;
    if (!pkg || this.installed) return;
    this.installed = true;
    this.store.setPackageFields(pkg.fields);
    for (const f of pkg.fields) {
      const md = pkg.fieldMetadata.get(f.name)!;
      const id = this.ids.next(KeyPrefix.customField);
      this.fields.set(id, { id, name: f.name, metadata: md, packaged: true });
    }
    this.permSets = pkg.permissionSets.map((p) => ({
      id: this.ids.next(KeyPrefix.permissionSet),
      ...p,
    }));
    for (const p of this.permSets) this.assignments.set(p.id, new Set([this.userId]));
    if (options.changeDataCapture !== false) {
      for (const m of pkg.channelMembers) {
        if (this.findMember(m.eventChannel, m.selectedEntity)) continue;
        const id = this.ids.next(KeyPrefix.channelMember);
        this.members.set(id, {
          id,
          developerName: m.fullName,
          eventChannel: m.eventChannel,
          selectedEntity: m.selectedEntity,
          packaged: true,
        });
      }
    }
  }

  /** Removes every package component and the data of its fields. */
  uninstallPackage(): void {
    if (!this.installed) return;
    this.installed = false;
    this.store.setPackageFields(null);
    for (const [id, f] of this.fields) if (f.packaged) this.fields.delete(id);
    for (const [id, m] of this.members) if (m.packaged) this.members.delete(id);
    for (const p of this.permSets) this.assignments.delete(p.id);
    this.permSets = [];
  }

  customFields(): CustomFieldRecord[] {
    return [...this.fields.values()];
  }

  customField(id: string): CustomFieldRecord | undefined {
    return this.fields.get(id);
  }

  /**
   * Creates a Contact custom field (`Contact.T_Shirt_Size__c`), as a Tooling API CustomField
   * create does; returns its id. Throws RecordFault with the code Salesforce reports.
   */
  createCustomField(fullName: string, metadata: CustomFieldMetadata): string {
    const m = /^Contact\.([A-Za-z0-9_]+)$/.exec(fullName);
    if (!m) {
      throw new RecordFault(
        'FIELD_INTEGRITY_EXCEPTION',
        `FullName must be Contact.<FieldName>__c in this org, not ${fullName}`,
        ['FullName'],
      );
    }
    const name = m[1]!;
    if (this.store.schema.field(name)) {
      throw new RecordFault(
        'DUPLICATE_DEVELOPER_NAME',
        `There is already a field named ${developerNameOf(name)} on Contact.`,
        ['DeveloperName'],
      );
    }
    let def: FieldDef;
    try {
      def = fieldDefFromMetadata(name, metadata);
    } catch (err) {
      if (err instanceof FieldMetadataError) {
        throw new RecordFault('FIELD_INTEGRITY_EXCEPTION', err.message, [err.field]);
      }
      throw err;
    }
    const id = this.ids.next(KeyPrefix.customField);
    this.fields.set(id, { id, name: def.name, metadata: { ...metadata }, packaged: false });
    this.store.addField(def);
    return id;
  }

  /** Deletes a custom field and its data (as deleting it in Setup does). */
  deleteCustomField(id: string): void {
    const f = this.fields.get(id);
    if (!f) throw new RecordFault('NOT_FOUND', 'The requested resource does not exist');
    if (f.packaged) {
      throw new RecordFault(
        'DELETE_FAILED',
        `${f.name} belongs to an installed package; uninstall the package to remove it`,
      );
    }
    this.fields.delete(id);
    this.store.removeField(f.name);
  }

  channelMembers(): ChannelMemberRecord[] {
    return [...this.members.values()];
  }

  channelMember(id: string): ChannelMemberRecord | undefined {
    return this.members.get(id);
  }

  /** Selects an entity for Change Data Capture on a channel; returns the member's id. */
  createChannelMember(fullName: string, eventChannel: string, selectedEntity: string): string {
    if (eventChannel !== 'ChangeEvents' || selectedEntity !== CONTACT_SELECTION.selectedEntity) {
      throw new RecordFault(
        'FIELD_INTEGRITY_EXCEPTION',
        `This org publishes change events for Contact on the ChangeEvents channel only, not ${selectedEntity} on ${eventChannel}`,
        ['Metadata'],
      );
    }
    if (this.findMember(eventChannel, selectedEntity)) {
      throw new RecordFault(
        'DUPLICATE_DEVELOPER_NAME',
        `${selectedEntity} is already selected on ${eventChannel}`,
        ['DeveloperName'],
      );
    }
    const id = this.ids.next(KeyPrefix.channelMember);
    this.members.set(id, {
      id,
      developerName: fullName || `${eventChannel}_${selectedEntity}`,
      eventChannel,
      selectedEntity,
      packaged: false,
    });
    return id;
  }

  deleteChannelMember(id: string): void {
    if (!this.members.delete(id)) {
      throw new RecordFault('NOT_FOUND', 'The requested resource does not exist');
    }
  }

  /** Whether Change Data Capture publishes Contact changes on the standard channel. */
  contactSelected(): boolean {
    return (
      this.findMember(CONTACT_SELECTION.eventChannel, CONTACT_SELECTION.selectedEntity) !==
      undefined
    );
  }

  permissionSets(): PermissionSetRecord[] {
    return [...this.permSets];
  }

  assignmentsOf(permissionSetId: string): string[] {
    return [...(this.assignments.get(permissionSetId) ?? [])];
  }

  snapshot(): SetupSnapshot {
    return {
      packageInstalled: this.installed,
      customFields: [...this.fields.values()]
        .filter((f) => !f.packaged)
        .map(({ packaged: _p, ...f }) => f),
      channelMembers: [...this.members.values()].map((m) => ({ ...m })),
    };
  }

  /** Reinstates a saved setup (before the records are restored). */
  restore(snap: SetupSnapshot): void {
    if (snap.packageInstalled) this.installPackage({ changeDataCapture: false });
    else this.uninstallPackage();
    this.members.clear();
    for (const f of snap.customFields) {
      this.fields.set(f.id, { ...f, packaged: false });
      this.store.addField(fieldDefFromMetadata(f.name, f.metadata));
    }
    for (const m of snap.channelMembers) this.members.set(m.id, { ...m });
  }

  private findMember(
    eventChannel: string,
    selectedEntity: string,
  ): ChannelMemberRecord | undefined {
    return [...this.members.values()].find(
      (m) => m.eventChannel === eventChannel && m.selectedEntity === selectedEntity,
    );
  }
}
