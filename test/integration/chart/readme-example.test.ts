/**
 * charts/lameduck/README.md: the copy-paste example is a working chart (written out verbatim, rendered with helm,
 * every object schema-valid, lameduck wired in), and the values table lists every documented key of values.yaml
 * with its real default.
 */
import {afterAll, beforeAll, describe, expect, it} from '@jest/globals';
import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {parse as parseYaml, stringify as stringifyYaml} from 'yaml';
import {findObject, podSpecOf, REPO_ROOT, validateObject} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';

const helm = useHelm();
let work: string;
let readme: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lameduck-readme-'));
  readme = await readFile(join(REPO_ROOT, 'charts/lameduck/README.md'), 'utf8');
});
afterAll(async () => {
  if (work) await rm(work, {recursive: true, force: true});
});

/** `<!-- example: path -->` followed by a fenced block: path -> content. */
function examples(text: string): Map<string, string> {
  return new Map([...text.matchAll(/<!-- example: (\S+) -->\n```[a-z]*\n([\s\S]*?)```/g)].map((m) => [m[1]!, m[2]!]));
}

describe('the README example', () => {
  it('is a chart that renders lameduck into the pod, with valid objects only', async () => {
    const files = examples(readme);
    expect([...files.keys()].sort()).toEqual(['Chart.yaml', 'templates/_pod.tpl', 'templates/deployment.yaml', 'templates/service.yaml', 'values.yaml']);
    const chart = join(work, 'my-app');
    for (const [path, content] of files) {
      await mkdir(dirname(join(chart, path)), {recursive: true});
      await writeFile(join(chart, path), content);
    }
    // The one line a reader adapts: where the library chart is.
    const meta = parseYaml(files.get('Chart.yaml')!) as {dependencies: {name: string; repository: string}[]};
    expect(meta.dependencies.map((d) => d.name)).toEqual(['lameduck']);
    meta.dependencies[0]!.repository = `file://${join(REPO_ROOT, 'charts/lameduck')}`;
    await writeFile(join(chart, 'Chart.yaml'), stringifyYaml(meta));

    expect(await helm.lint(chart)).toContain('0 chart(s) failed');
    const objects = await helm.template(chart, undefined, {release: 'my-app', namespace: 'shop'});
    for (const o of objects) await validateObject(o);
    expect(objects.map((o) => o.kind).sort()).toEqual(['Deployment', 'Role', 'RoleBinding', 'Secret', 'Service']);

    const pod = podSpecOf(findObject(objects, 'Deployment'));
    const sidecar = pod.initContainers!.find((c) => c.name === 'lameduck')!;
    expect(sidecar.image).toBe('registry.example.com/lameduck:0.1.0');
    expect(sidecar.restartPolicy).toBe('Always');
    expect(sidecar.env!.find((e) => e.name === 'LAMEDUCK_SETTLE')!.value).toBe('5s');
    expect(sidecar.env!.find((e) => e.name === 'LAMEDUCK_UPSTREAM')!.value).toBe('http://127.0.0.1:3000');
    expect(pod.containers.map((c) => c.name)).toEqual(['app']);
    expect(pod.containers[0]!.lifecycle?.preStop?.httpGet).toMatchObject({path: '/prestop', port: 9901});
    const service = findObject(objects, 'Service');
    const target = (service.spec as {ports: {targetPort: string}[]}).ports[0]!.targetPort;
    expect(sidecar.ports!.map((p) => p.name)).toContain(target);
    const subjects = findObject(objects, 'RoleBinding').subjects as {name: string; namespace: string}[];
    expect(subjects).toEqual([{kind: 'ServiceAccount', name: 'default', namespace: 'shop'}]);
  });
});

describe('the values table', () => {
  it('lists every documented key of values.yaml with its default', async () => {
    const source = await readFile(join(REPO_ROOT, 'charts/lameduck/values.yaml'), 'utf8');
    const values = parseYaml(source) as Record<string, unknown>;
    // Documented keys: those preceded by a helm-docs `# --` comment, by their dotted path.
    const documented: string[] = [];
    const stack: [number, string][] = [];
    let pending = false;
    for (const line of source.split('\n')) {
      if (/^\s*# -- /.test(line)) pending = true;
      const m = /^(\s*)([A-Za-z][A-Za-z0-9]*):/.exec(line);
      if (!m) continue;
      while (stack.length > 0 && stack[stack.length - 1]![0] >= m[1]!.length) stack.pop();
      stack.push([m[1]!.length, m[2]!]);
      if (pending) documented.push(stack.map(([, k]) => k).join('.'));
      pending = false;
    }
    expect(documented.length).toBeGreaterThan(40);
    const rows = new Map([...readme.matchAll(/^\| ([a-zA-Z.]+) \| [a-z]+ \| `(.*?)` \| .+ \|$/gm)].map((m) => [m[1]!, m[2]!]));
    const problems: string[] = [];
    for (const key of documented) {
      const value = key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], values);
      if (!rows.has(key)) problems.push(`${key}: missing`);
      else if (JSON.stringify(JSON.parse(rows.get(key)!)) !== JSON.stringify(value)) problems.push(`${key}: README ${rows.get(key)}, values.yaml ${JSON.stringify(value)}`);
    }
    for (const key of rows.keys()) if (!documented.includes(key)) problems.push(`${key}: in the README only`);
    expect(problems).toEqual([]);
  });
});
