import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import sax from 'sax';
import { fieldDefFromMetadata } from './field-metadata';
import type { CustomFieldMetadata } from './field-metadata';
import type { FieldDef } from './schema';

/**
 * The InitLive package as its SFDX source (salesforce/force-app, API 62.0): the files an admin
 * deploys to a real org are the ones this sandbox installs. Reading them at start is what keeps
 * the sandbox's Contact (describe, validation, lengths, picklists) and the package from drifting
 * apart.
 */
export interface SalesforcePackage {
  /** The package directory read (…/salesforce/force-app). */
  dir: string;
  /** Contact custom fields, in file-name order. */
  fields: FieldDef[];
  /** Each field's metadata as its file states it (Tooling reads return it). */
  fieldMetadata: Map<string, CustomFieldMetadata>;
  permissionSets: Array<{ name: string; label: string }>;
  /** Change Data Capture selections (PlatformEventChannelMember). */
  channelMembers: Array<{ fullName: string; eventChannel: string; selectedEntity: string }>;
}

/**
 * An element's content: child element name -> its text (leaf), its content (nested), or a list
 * of them when the name repeats; attributes under `$`. (The shape xml2js gives, kept small.)
 */
export type XmlNode = { [name: string]: XmlValue };
type XmlValue = string | XmlNode | Array<string | XmlNode>;

/** The metadata namespace every Metadata API file declares on its root element. */
export const METADATA_NAMESPACE = 'http://soap.sforce.com/2006/04/metadata';

interface Frame {
  name: string;
  node: XmlNode;
  text: string;
  hasChildren: boolean;
}

function addChild(parent: XmlNode, name: string, value: string | XmlNode): void {
  const existing = parent[name];
  if (existing === undefined) parent[name] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else parent[name] = [existing, value];
}

/**
 * Parses one metadata file strictly and returns its root element name and content. A document
 * that is not well-formed (mismatched or unclosed tags, a bad entity, text or a second element
 * outside the root) throws, naming the file.
 */
export function parseMetadataXml(xml: string, file: string): { root: string; body: XmlNode } {
  const parser = sax.parser(true, { trim: false, normalize: false, xmlns: false });
  const stack: Frame[] = [];
  let root: { name: string; body: XmlNode } | null = null;
  let failure: string | null = null;
  const fail = (message: string): void => {
    failure ??= message;
  };
  parser.onerror = (err) => {
    fail(err.message.split('\n')[0] ?? err.message);
    parser.resume();
  };
  parser.onopentag = (tag) => {
    if (stack.length === 0 && root !== null) fail(`a second root element <${tag.name}>`);
    const node: XmlNode = {};
    const attrs = Object.entries(tag.attributes as Record<string, string>);
    if (attrs.length > 0) node.$ = Object.fromEntries(attrs);
    const parent = stack[stack.length - 1];
    if (parent) parent.hasChildren = true;
    stack.push({ name: tag.name, node, text: '', hasChildren: false });
  };
  parser.ontext = (text) => {
    const top = stack[stack.length - 1];
    if (top) top.text += text;
  };
  parser.oncdata = (text) => {
    const top = stack[stack.length - 1];
    if (top) top.text += text;
  };
  parser.onclosetag = () => {
    const frame = stack.pop();
    if (!frame) return;
    const leaf = !frame.hasChildren && !('$' in frame.node);
    if (!leaf && frame.text.trim() !== '') fail(`mixed text and elements in <${frame.name}>`);
    const value: string | XmlNode = leaf ? frame.text.trim() : frame.node;
    const parent = stack[stack.length - 1];
    if (parent) addChild(parent.node, frame.name, value);
    else root = { name: frame.name, body: typeof value === 'string' ? {} : value };
  };
  parser.write(xml).close();
  if (failure === null && root === null) failure = 'no root element';
  if (failure !== null || root === null) {
    throw new Error(`${file}: not a well-formed metadata document: ${failure ?? 'no content'}`);
  }
  const { name, body } = root as { name: string; body: XmlNode };
  return { root: name, body };
}

export function asArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function textOf(node: XmlNode, name: string): string | undefined {
  const v = node[name];
  return typeof v === 'string' ? v : undefined;
}

function boolOf(node: XmlNode, name: string): boolean | undefined {
  const v = textOf(node, name);
  return v === undefined ? undefined : v === 'true';
}

function intOf(node: XmlNode, name: string): number | undefined {
  const v = textOf(node, name);
  return v === undefined ? undefined : Number(v);
}

/** A `.field-meta.xml` CustomField document as Metadata API field values. */
export function customFieldMetadataOf(body: XmlNode): CustomFieldMetadata {
  const md: CustomFieldMetadata = {
    type: textOf(body, 'type') ?? '',
    label: textOf(body, 'label') ?? '',
  };
  const ints = ['length', 'precision', 'scale', 'visibleLines'] as const;
  for (const k of ints) {
    const v = intOf(body, k);
    if (v !== undefined) md[k] = v;
  }
  const bools = ['externalId', 'unique', 'caseSensitive', 'required'] as const;
  for (const k of bools) {
    const v = boolOf(body, k);
    if (v !== undefined) md[k] = v;
  }
  md.description = textOf(body, 'description') ?? null;
  md.inlineHelpText = textOf(body, 'inlineHelpText') ?? null;
  const dv = textOf(body, 'defaultValue');
  if (dv !== undefined) md.defaultValue = dv;
  const valueSet = body.valueSet;
  if (valueSet && typeof valueSet === 'object' && !Array.isArray(valueSet)) {
    const definition = valueSet.valueSetDefinition;
    const values =
      definition && typeof definition === 'object' && !Array.isArray(definition)
        ? asArray(definition.value).filter((v): v is XmlNode => typeof v === 'object')
        : [];
    md.valueSet = {
      restricted: boolOf(valueSet, 'restricted') === true,
      valueSetDefinition: {
        value: values.map((v) => ({
          fullName: textOf(v, 'fullName') ?? '',
          label: textOf(v, 'label') ?? textOf(v, 'fullName') ?? '',
          default: boolOf(v, 'default') === true,
        })),
      },
    };
  }
  return md;
}

/** Every file under `dir` whose name ends in `suffix`, sorted (missing dir: none). */
function filesIn(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

function read(file: string, root: string): XmlNode {
  const doc = parseMetadataXml(readFileSync(file, 'utf8'), file);
  if (doc.root !== root) throw new Error(`${file}: root element is ${doc.root}, not ${root}`);
  return doc.body;
}

/**
 * Where the package's source sits: salesforce/force-app at the project root, found from this
 * file under src/ (ts-node, jest) or dist/src/ (the build).
 */
export function defaultPackageDir(): string {
  const candidates = [
    join(__dirname, '../../../salesforce/force-app'),
    join(__dirname, '../../../../salesforce/force-app'),
  ];
  const found = candidates.find((d) => existsSync(d));
  if (!found) throw new Error(`salesforce/force-app not found near ${__dirname}`);
  return found;
}

/** Reads the package's Contact fields, permission sets and CDC selections from `dir`. */
export function loadSalesforcePackage(dir: string = defaultPackageDir()): SalesforcePackage {
  const base = join(dir, 'main', 'default');
  const fields: FieldDef[] = [];
  const fieldMetadata = new Map<string, CustomFieldMetadata>();
  for (const file of filesIn(join(base, 'objects', 'Contact', 'fields'), '.field-meta.xml')) {
    const body = read(file, 'CustomField');
    const name = textOf(body, 'fullName') ?? basename(file, '.field-meta.xml');
    if (`${name}.field-meta.xml` !== basename(file)) {
      throw new Error(`${file}: fullName ${name} does not match the file name`);
    }
    const md = customFieldMetadataOf(body);
    fieldMetadata.set(name, md);
    fields.push(fieldDefFromMetadata(name, md));
  }
  const permissionSets = filesIn(join(base, 'permissionsets'), '.permissionset-meta.xml').map(
    (file) => ({
      name: basename(file, '.permissionset-meta.xml'),
      label: textOf(read(file, 'PermissionSet'), 'label') ?? '',
    }),
  );
  const channelMembers = filesIn(
    join(base, 'platformEventChannelMembers'),
    '.platformEventChannelMember-meta.xml',
  ).map((file) => {
    const body = read(file, 'PlatformEventChannelMember');
    return {
      fullName: basename(file, '.platformEventChannelMember-meta.xml'),
      eventChannel: textOf(body, 'eventChannel') ?? '',
      selectedEntity: textOf(body, 'selectedEntity') ?? '',
    };
  });
  return { dir, fields, fieldMetadata, permissionSets, channelMembers };
}
