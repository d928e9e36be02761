import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fieldSpecs, packageFields } from '../../src/core/mapping';
import {
  METADATA_NAMESPACE,
  asArray,
  defaultPackageDir,
  loadSalesforcePackage,
  parseMetadataXml,
} from '../../src/sandbox/salesforce/package-source';
import type { XmlNode } from '../../src/sandbox/salesforce/package-source';
import type { SalesforceSandbox } from '../../src/sandbox/salesforce';
import { connect, startSandbox } from './sandbox-salesforce-helpers';

const root = dirname(defaultPackageDir());

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? allFiles(path) : [path];
  });
}

/** SFDX source folder -> the Metadata API type its files hold (their root element). */
const rootByFolder: Record<string, string> = {
  fields: 'CustomField',
  permissionsets: 'PermissionSet',
  platformEventChannelMembers: 'PlatformEventChannelMember',
  externalClientApps: 'ExternalClientApplication',
  extlClntAppOauthSettings: 'ExtlClntAppOauthSettings',
  extlClntAppGlobalOauthSets: 'ExtlClntAppGlobalOauthSettings',
};

const suffixByRoot: Record<string, string> = {
  CustomField: '.field-meta.xml',
  PermissionSet: '.permissionset-meta.xml',
  PlatformEventChannelMember: '.platformEventChannelMember-meta.xml',
  ExternalClientApplication: '.eca-meta.xml',
  ExtlClntAppOauthSettings: '.ecaOauth-meta.xml',
  ExtlClntAppGlobalOauthSettings: '.ecaGlblOauth-meta.xml',
};

function doc(path: string): XmlNode {
  return parseMetadataXml(readFileSync(join(root, path), 'utf8'), path).body;
}

describe('the Salesforce package (salesforce/, SFDX source format)', () => {
  const xmlFiles = allFiles(root).filter((f) => f.endsWith('.xml'));

  test('sfdx-project.json names API 62.0 and package directories that exist', () => {
    const project = JSON.parse(readFileSync(join(root, 'sfdx-project.json'), 'utf8')) as {
      sourceApiVersion: string;
      packageDirectories: Array<{ path: string; default?: boolean; package?: string }>;
    };
    expect(project.sourceApiVersion).toBe('62.0');
    const dirs = project.packageDirectories.map((d) => d.path).sort();
    expect(dirs).toEqual(['connected-app', 'force-app']);
    for (const d of dirs) expect(statSync(join(root, d)).isDirectory()).toBe(true);
    // The package is what an unlocked package version builds; the app stays out of it.
    const pkg = project.packageDirectories.filter((d) => d.package !== undefined);
    expect(pkg.map((d) => d.path)).toEqual(['force-app']);
  });

  test('every metadata file is well-formed XML with the right root element, namespace and suffix', () => {
    expect(xmlFiles.length).toBe(9);
    for (const file of xmlFiles) {
      const rel = relative(root, file);
      const text = readFileSync(file, 'utf8');
      expect(text.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true);
      const parsed = parseMetadataXml(text, rel);
      const expected = rootByFolder[basename(dirname(file))];
      expect({ rel, root: parsed.root }).toEqual({ rel, root: expected });
      expect((parsed.body.$ as XmlNode | undefined)?.xmlns).toBe(METADATA_NAMESPACE);
      expect(file.endsWith(suffixByRoot[parsed.root]!)).toBe(true);
    }
  });

  test('a malformed document is refused', () => {
    expect(() =>
      parseMetadataXml('<CustomField><label>x</CustomField>', 'broken.field-meta.xml'),
    ).toThrow(/not a well-formed metadata document/);
    expect(() => parseMetadataXml('<a/><b/>', 'two-roots.xml')).toThrow(/well-formed/);
  });

  test('the connector and the package agree on the package fields', () => {
    const pkg = loadSalesforcePackage();
    expect(pkg.fields.map((f) => f.name).sort()).toEqual([...packageFields].sort());
    // The lengths the connector checks before a write are the package's.
    for (const f of pkg.fields) {
      const spec = Object.values(fieldSpecs).find((s) => s.salesforceField === f.name)!;
      if (spec.maxLength !== undefined)
        expect({ f: f.name, n: f.length }).toEqual({ f: f.name, n: spec.maxLength });
    }
  });

  test('the field types the connector relies on', () => {
    const byName = new Map(loadSalesforcePackage().fields.map((f) => [f.name, f]));
    expect(byName.get('InitLive_Staff_Id__c')).toMatchObject({
      type: 'string',
      length: 64,
      externalId: true,
      unique: true,
    });
    expect(byName.get('InitLive_Tags__c')).toMatchObject({ type: 'textarea', length: 32768 });
    expect(byName.get('InitLive_Status__c')).toMatchObject({
      type: 'picklist',
      restrictedPicklist: true,
      picklistValues: ['active', 'archived', 'deleted'],
    });
    expect(byName.get('InitLive_Hours_Worked__c')).toMatchObject({
      type: 'double',
      precision: 18,
      scale: 2,
    });
    for (const f of byName.values()) {
      expect(f.description).toEqual(expect.any(String));
      expect(f.inlineHelpText).toEqual(expect.any(String));
    }
  });

  test('the permission set grants Contact access, View All for CDC, and FLS on the mapped fields', () => {
    const ps = doc(
      'force-app/main/default/permissionsets/InitLive_Sync_Integration.permissionset-meta.xml',
    );
    expect(ps.label).toBe('InitLive Sync Integration');
    const contact = asArray(ps.objectPermissions).find(
      (o) => (o as XmlNode).object === 'Contact',
    ) as XmlNode;
    expect(contact).toMatchObject({
      allowRead: 'true',
      allowCreate: 'true',
      allowEdit: 'true',
      viewAllRecords: 'true',
    });
    const fls = new Map(
      asArray(ps.fieldPermissions).map((p) => [(p as XmlNode).field as string, p as XmlNode]),
    );
    for (const f of packageFields) {
      expect(fls.get(`Contact.${f}`)).toMatchObject({ readable: 'true', editable: 'true' });
    }
    const perms = asArray(ps.userPermissions).map((p) => (p as XmlNode).name);
    expect(perms).toEqual(expect.arrayContaining(['ApiEnabled', 'ViewSetup']));
  });

  test('Contact is selected for Change Data Capture on the standard channel', () => {
    const m = doc(
      'force-app/main/default/platformEventChannelMembers/ChangeEvents_ContactChangeEvent.platformEventChannelMember-meta.xml',
    );
    expect(m).toMatchObject({ eventChannel: 'ChangeEvents', selectedEntity: 'ContactChangeEvent' });
  });

  test('the External Client App requires PKCE and asks for the API and refresh token scopes only', () => {
    const global = doc(
      'connected-app/main/default/extlClntAppGlobalOauthSets/InitLive_Sync_glbloauth.ecaGlblOauth-meta.xml',
    );
    expect(global.isPkceRequired).toBe('true');
    expect(global.callbackUrl).toMatch(/^https:\/\/.+\/oauth\/salesforce\/callback$/);
    expect(global.externalClientApplication).toBe('InitLive_Sync');
    const oauth = doc(
      'connected-app/main/default/extlClntAppOauthSettings/InitLive_Sync_oauth.ecaOauth-meta.xml',
    );
    expect((oauth.commaSeparatedOauthScopes as string).split(/,\s*/).sort()).toEqual([
      'Api',
      'RefreshToken',
    ]);
  });
});

describe('the sandbox describes Contact from the package files', () => {
  let sb: SalesforceSandbox | null = null;
  afterEach(async () => {
    await sb?.close();
    sb = null;
  });

  test('each package field is described with the file’s type, length, flags and picklist', async () => {
    sb = await startSandbox();
    const conn = await connect(sb);
    const described = await conn.describe('Contact');
    const pkg = loadSalesforcePackage();
    for (const f of pkg.fields) {
      const d = described.fields.find((x) => x.name === f.name)!;
      expect(d).toMatchObject({
        type: f.type,
        length: f.length,
        externalId: f.externalId,
        unique: f.unique,
        custom: true,
        inlineHelpText: f.inlineHelpText,
      });
      expect((d.picklistValues ?? []).map((p) => p.value)).toEqual(f.picklistValues ?? []);
    }
  });

  test('a sandbox started without the package has none of its fields', async () => {
    sb = await startSandbox({ packageInstalled: false });
    const conn = await connect(sb);
    const names = (await conn.describe('Contact')).fields.map((f) => f.name);
    for (const f of packageFields) expect(names).not.toContain(f);
    expect(names).toContain('LastName');
  });
});
