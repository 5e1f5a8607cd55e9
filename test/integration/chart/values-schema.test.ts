/**
 * values.schema.json of both charts: invalid values stop `helm template` with a message that names the chart, the
 * key and what is wrong; every key is described, objects allow no unknown keys, and the schema's defaults are the
 * values.yaml defaults. The library's schema checks the including chart's `lameduck:` block (Helm validates a
 * dependency's values against the dependency's schema).
 */
import {describe, expect, it} from '@jest/globals';
import {readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {parse as parseYaml} from 'yaml';
import {REPO_ROOT} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';

const helm = useHelm();

const INVALID: [string, object, RegExp][] = [
  ['an unknown mode', {lameduck: {mode: 'sidecar'}}, /lameduck:\n- at '\/mode': value must be one of 'native', 'classic'/],
  ['a duration that is not Go syntax', {lameduck: {settle: '2 seconds'}}, /lameduck:\n- at '\/settle': '2 seconds' does not match pattern/],
  ['a number for a duration', {lameduck: {quiet: 1}}, /lameduck:\n- at '\/quiet': got number, want string/],
  ['a port out of range', {lameduck: {ports: {traffic: 70000}}}, /lameduck:\n- at '\/ports\/traffic': maximum: got 70,000, want 65,535/],
  ['a port name longer than 15 characters', {lameduck: {ports: {adminName: 'lameduck-admin-port'}}}, /at '\/ports\/adminName': maxLength: got 19, want 15/],
  ['a numeric port name', {lameduck: {ports: {trafficName: '8080'}}}, /at '\/ports\/trafficName': 'not' failed/],
  ['gRPC named as an app protocol (HTTP/2 is what lameduck speaks)', {lameduck: {appProtocol: 'grpc'}}, /at '\/appProtocol': value must be one of 'http', 'h2c'/],
  ['a misspelt key', {lameduck: {watchpod: true}}, /lameduck:\n- at '': additional properties 'watchpod' not allowed/],
  ['a misspelt nested key', {lameduck: {image: {repo: 'x'}}}, /at '\/image': additional properties 'repo' not allowed/],
  ['a string for a boolean', {lameduck: {watchPod: 'yes'}}, /at '\/watchPod': got string, want boolean/],
  ['an unknown environment preset', {lameduck: {environment: 'aws'}}, /at '\/environment': value must be one of 'kube-proxy', 'ingress', 'cloud-lb', 'custom'/],
  ['a quiet-ignore path without a slash', {lameduck: {quietIgnorePaths: ['healthz']}}, /at '\/quietIgnorePaths\/0': 'healthz' does not match pattern/],
  ['an invalid signal spec', {lameduck: {legacyApp: {enabled: true, exit: 'kill -9', processPattern: 'x'}}}, /at '\/legacyApp\/exit': 'kill -9' does not match pattern/],
  ['custom environment without settle', {lameduck: {environment: 'custom'}}, /lameduck:\n- at '': 'allOf' failed\n {2}- at '\/settle': minLength: got 0, want 1/],
  ['a misspelt key of the demo chart', {replicas: 3}, /demo:\n- at '': additional properties 'replicas' not allowed/],
  ['an unknown anti-affinity', {podAntiAffinity: 'strict'}, /demo:\n- at '\/podAntiAffinity': value must be one of 'soft', 'hard', 'none'/],
];

describe('invalid values', () => {
  it.each(INVALID)('%s is refused with a message naming the key', async (_name, values, message) => {
    const err = await helm.template('charts/demo', values).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toMatchObject({code: 'HELM_FAILED'});
    expect(err!.message).toContain("values don't meet the specifications of the schema(s)");
    expect(err!.message).toMatch(message);
  });
});

interface Schema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  additionalProperties?: boolean | Schema;
  properties?: Record<string, Schema>;
}

/** Every property path with a problem: no description, an object open to unknown keys, a default unlike values.yaml. */
function audit(schema: Schema, values: unknown, path: string, skip: Set<string>): string[] {
  const problems: string[] = [];
  if (!schema.description) problems.push(`${path || '(root)'}: no description`);
  // A key with a default is a leaf here, even when its value is an object (resources, labels).
  if (schema.properties && !('default' in schema)) {
    if (schema.additionalProperties !== false) problems.push(`${path}: additionalProperties is not false`);
    const v = (values ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(v)) if (!(key in schema.properties)) problems.push(`${path}.${key}: in values.yaml, not in the schema`);
    for (const [key, sub] of Object.entries(schema.properties)) {
      const p = path ? `${path}.${key}` : key;
      if (skip.has(p)) continue;
      if (!(key in v)) {
        problems.push(`${p}: in the schema, not in values.yaml`);
        continue;
      }
      problems.push(...audit(sub, v[key], p, skip));
    }
  } else if (JSON.stringify(schema.default) !== JSON.stringify(values)) {
    problems.push(`${path}: schema default ${JSON.stringify(schema.default)}, values.yaml ${JSON.stringify(values)}`);
  }
  return problems;
}

describe.each([
  ['charts/lameduck', new Set(['global'])],
  // The demo's lameduck block holds only overrides; the library's schema describes it.
  ['charts/demo', new Set(['global', 'lameduck'])],
])('%s/values.schema.json', (chart, skip) => {
  it('describes every key, closes every object, and has the values.yaml defaults', async () => {
    const schema = JSON.parse(await readFile(join(REPO_ROOT, chart, 'values.schema.json'), 'utf8')) as Schema;
    const values = parseYaml(await readFile(join(REPO_ROOT, chart, 'values.yaml'), 'utf8')) as unknown;
    expect(audit(schema, values, '', skip)).toEqual([]);
  });
});
