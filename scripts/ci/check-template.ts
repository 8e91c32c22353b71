/**
 * `tsx scripts/ci/check-template.ts [template.json]`: checks a CloudFormation template against the
 * resource specification shipped by @aws-cdk/cfnspec, offline: every resource type known, every
 * property name known (nested property types too), every required property present. Intrinsic
 * functions are not evaluated: a value built by Ref, Fn::If … is taken as present and not inspected.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface PropertySpec {
  Required?: boolean;
  Type?: string;
  ItemType?: string;
  PrimitiveType?: string;
  PrimitiveItemType?: string;
}

/** The part of the specification the check reads. */
export interface Specification {
  ResourceTypes: Record<string, { Properties?: Record<string, PropertySpec> }>;
  PropertyTypes: Record<string, { Properties?: Record<string, PropertySpec> }>;
}

/** The part of a template the check reads. */
export interface Template {
  Resources?: Record<string, { Type?: string; Properties?: Record<string, unknown>; [attribute: string]: unknown }>;
}

const RESOURCE_ATTRIBUTES = new Set([
  'Type',
  'Properties',
  'DependsOn',
  'Condition',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'Metadata',
  'CreationPolicy',
  'UpdatePolicy',
]);

/** The specification shipped by @aws-cdk/cfnspec. */
export function loadSpecification(): Specification {
  const file = createRequire(__filename).resolve('@aws-cdk/cfnspec/spec/specification.json');
  return JSON.parse(readFileSync(file, 'utf8')) as Specification;
}

function isIntrinsic(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  const [key] = keys;
  return keys.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::') || key === 'Condition');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isIntrinsic(value);
}

/** Every problem found, one sentence each naming the resource and property; empty when the template passes. */
export function checkTemplate(template: Template, spec: Specification): string[] {
  const problems: string[] = [];
  const resources = template.Resources ?? {};
  if (Object.keys(resources).length === 0) problems.push('the template has no resources');

  const checkProperties = (
    where: string,
    typeName: string,
    props: Record<string, PropertySpec> | undefined,
    value: Record<string, unknown>,
    specKey: (sub: string) => string,
  ) => {
    // a property type with no declared properties is free-form (e.g. a JSON document)
    if (props === undefined) return;
    for (const [name, p] of Object.entries(props)) {
      if (p.Required && !(name in value)) problems.push(`${where}: required property ${name} is missing`);
    }
    for (const [name, v] of Object.entries(value)) {
      const p = props[name];
      if (!p) {
        problems.push(`${where}: ${typeName} has no property ${name}`);
        continue;
      }
      const sub = p.Type && p.Type !== 'List' && p.Type !== 'Map' ? p.Type : p.ItemType;
      if (!sub || sub === 'Json') continue;
      const subSpec = spec.PropertyTypes[specKey(sub)] ?? spec.PropertyTypes[sub];
      if (!subSpec) continue;
      const items =
        p.Type === 'List' && Array.isArray(v) ? v : p.Type === 'Map' && isObject(v) ? Object.values(v) : [v];
      items.forEach((item, i) => {
        if (!isObject(item)) return;
        const label = items.length > 1 || p.Type === 'List' ? `${where}.${name}[${i}]` : `${where}.${name}`;
        checkProperties(label, sub, subSpec.Properties, item, specKey);
      });
    }
  };

  for (const [id, resource] of Object.entries(resources)) {
    const type = resource.Type;
    if (typeof type !== 'string') {
      problems.push(`${id}: no Type`);
      continue;
    }
    for (const attribute of Object.keys(resource)) {
      if (!RESOURCE_ATTRIBUTES.has(attribute)) problems.push(`${id}: unknown resource attribute ${attribute}`);
    }
    // custom resources have free-form properties
    if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') continue;
    const typeSpec = spec.ResourceTypes[type];
    if (!typeSpec) {
      problems.push(`${id}: unknown resource type ${type}`);
      continue;
    }
    const props = resource.Properties ?? {};
    if (!isObject(props)) continue;
    checkProperties(`${id} (${type})`, type, typeSpec.Properties ?? {}, props, (sub) => `${type}.${sub}`);
  }
  return problems;
}

function main(): void {
  const file = process.argv[2] ?? '.serverless/cloudformation-template-update-stack.json';
  const template = JSON.parse(readFileSync(file, 'utf8')) as Template;
  const problems = checkTemplate(template, loadSpecification());
  const count = Object.keys(template.Resources ?? {}).length;
  if (problems.length > 0) {
    for (const p of problems) console.error(`template: ${p}`);
    console.error(`${file}: ${problems.length} problem(s) in ${count} resources`);
    process.exit(1);
  }
  console.log(`${file}: ${count} resources match the CloudFormation resource specification`);
}

if (require.main === module) main();
