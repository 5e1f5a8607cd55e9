/**
 * A real `helm` (v4, installed by scripts/install-helm.sh) for tests: lint, render charts to parsed objects, and
 * validate rendered objects against the Kubernetes API schemas of maintained packages.
 *
 * Charts with `file://` dependencies (charts/demo on the library chart) are rendered from a private copy: the copy's
 * dependencies are built with `helm dependency build` into a temp dir, so parallel test files never race on
 * charts/demo/charts/ and the checkout is never written.
 *
 *   const objects = await renderChart('charts/demo', {lameduck: {mode: 'classic'}});
 *   const deployment = findObject(objects, 'Deployment');
 */
import {execFile, type ExecFileException} from 'node:child_process';
import {cp, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {basename, isAbsolute, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {parse as parseYaml, parseAllDocuments, stringify as stringifyYaml} from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const INSTALL_HELM_SCRIPT = join(REPO_ROOT, 'scripts', 'install-helm.sh');
/** Native sidecars are GA from 1.33; rendering for it is what the charts are written for. */
export const DEFAULT_KUBE_VERSION = '1.33.0';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>};
  [field: string]: unknown;
}

export type HelmErrorCode = 'HELM_INSTALL_FAILED' | 'HELM_FAILED' | 'HELM_BAD_OUTPUT';

/** helm exited non-zero (or could not be installed, or printed something that is not YAML objects). */
export class HelmError extends Error {
  readonly code: HelmErrorCode;
  readonly args: readonly string[];
  readonly stderr: string;
  constructor(code: HelmErrorCode, message: string, details: {args?: readonly string[]; stderr?: string; cause?: unknown} = {}) {
    super(message, {cause: details.cause});
    this.name = 'HelmError';
    this.code = code;
    this.args = details.args ?? [];
    this.stderr = details.stderr ?? '';
  }
}

export type ManifestErrorCode = 'MANIFEST_INVALID' | 'MANIFEST_UNKNOWN_FIELD' | 'MANIFEST_UNKNOWN_KIND';

/** A rendered object that the Kubernetes API would refuse (or whose kind no schema here covers). */
export class ManifestError extends Error {
  readonly code: ManifestErrorCode;
  readonly object: string;
  constructor(code: ManifestErrorCode, object: string, message: string, options?: {cause?: unknown}) {
    super(`${object}: ${message}`, options);
    this.name = 'ManifestError';
    this.code = code;
    this.object = object;
  }
}

interface ExecResult {
  stdout: string;
  stderr: string;
}

function exec(file: string, args: readonly string[], options: {env?: NodeJS.ProcessEnv; timeoutMs: number; cwd?: string}): Promise<ExecResult & {error?: ExecFileException}> {
  return new Promise((resolvePromise) => {
    execFile(
      file,
      args as string[],
      {env: options.env, cwd: options.cwd, timeout: options.timeoutMs, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL', encoding: 'utf8'},
      (error, stdout, stderr) => resolvePromise({stdout, stderr, error: error ?? undefined}),
    );
  });
}

/** Runs scripts/install-helm.sh (a no-op when the pinned helm is there) and returns the helm binary's path. */
export async function ensureHelm(options: {timeoutMs?: number} = {}): Promise<string> {
  const r = await exec('sh', [INSTALL_HELM_SCRIPT], {timeoutMs: options.timeoutMs ?? 300_000, cwd: REPO_ROOT});
  const path = r.stdout.trim().split('\n').pop() ?? '';
  if (r.error || !isAbsolute(path)) {
    throw new HelmError('HELM_INSTALL_FAILED', `scripts/install-helm.sh failed: ${r.stderr.trim() || r.error?.message}`, {stderr: r.stderr, cause: r.error});
  }
  return path;
}

export interface TemplateOptions {
  release?: string;
  namespace?: string;
  kubeVersion?: string;
  /** Extra helm arguments, e.g. ['--set', 'a=b']. */
  extraArgs?: readonly string[];
}

export interface Helm {
  readonly bin: string;
  /** Runs helm; rejects with HelmError (stderr in the message) on a non-zero exit. */
  run(args: readonly string[], options?: {timeoutMs?: number}): Promise<ExecResult>;
  /** `helm lint --strict` (with these values, if any); resolves with helm's output. */
  lint(chartDir: string, values?: object): Promise<string>;
  /** `helm template` with these values; resolves with the raw YAML. */
  templateYaml(chartDir: string, values?: object, options?: TemplateOptions): Promise<string>;
  /** `helm template`, parsed: every rendered object, in helm's order. */
  template(chartDir: string, values?: object, options?: TemplateOptions): Promise<KubeObject[]>;
  /** Removes the private chart copies and helm's home. */
  dispose(): Promise<void>;
}

/** Resolves chart paths relative to the repository root. */
function chartPath(chartDir: string): string {
  return isAbsolute(chartDir) ? chartDir : resolve(REPO_ROOT, chartDir);
}

export async function createHelm(options: {bin?: string} = {}): Promise<Helm> {
  const bin = options.bin ?? (await ensureHelm());
  const work = await mkdtemp(join(tmpdir(), 'lameduck-helm-'));
  // helm's own state (repositories, cache) stays in the temp dir: nothing in $HOME, nothing shared between workers.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HELM_CACHE_HOME: join(work, 'home', 'cache'),
    HELM_CONFIG_HOME: join(work, 'home', 'config'),
    HELM_DATA_HOME: join(work, 'home', 'data'),
  };
  const prepared = new Map<string, Promise<string>>();
  let files = 0;

  const run: Helm['run'] = async (args, runOptions = {}) => {
    const r = await exec(bin, args, {env, timeoutMs: runOptions.timeoutMs ?? 60_000, cwd: work});
    if (r.error) {
      throw new HelmError('HELM_FAILED', `helm ${args.join(' ')} failed: ${r.stderr.trim() || r.error.message}`, {args, stderr: r.stderr, cause: r.error});
    }
    return {stdout: r.stdout, stderr: r.stderr};
  };

  /** A copy of the chart whose file:// dependencies point at absolute paths and are built into its charts/. */
  const prepare = (chartDir: string): Promise<string> => {
    const source = chartPath(chartDir);
    let p = prepared.get(source);
    if (!p) {
      p = (async () => {
        const chart = parseYaml(await readFile(join(source, 'Chart.yaml'), 'utf8')) as {dependencies?: {repository?: string}[]};
        const deps = chart.dependencies ?? [];
        if (!deps.some((d) => d.repository?.startsWith('file://'))) return source;
        const copy = join(work, `chart-${prepared.size}`, basename(source));
        // Without the built dependencies and the lock: both are rebuilt for the rewritten Chart.yaml.
        await cp(source, copy, {recursive: true, filter: (src) => src !== join(source, 'charts') && src !== join(source, 'Chart.lock')});
        for (const d of deps) {
          if (d.repository?.startsWith('file://')) d.repository = `file://${resolve(source, d.repository.slice('file://'.length))}`;
        }
        await writeFile(join(copy, 'Chart.yaml'), stringifyYaml(chart));
        await run(['dependency', 'build', copy, '--skip-refresh']);
        return copy;
      })();
      prepared.set(source, p);
    }
    return p;
  };

  const valuesArgs = async (values: object | undefined): Promise<string[]> => {
    if (!values) return [];
    const file = join(work, `values-${files++}.json`);
    // JSON is YAML: no quoting surprises, and `null` keeps its Helm meaning (delete the default).
    await writeFile(file, JSON.stringify(values));
    return ['-f', file];
  };

  const templateYaml: Helm['templateYaml'] = async (chartDir, values, o = {}) => {
    const dir = await prepare(chartDir);
    const args = [
      'template',
      o.release ?? 'demo',
      dir,
      '--namespace',
      o.namespace ?? 'default',
      '--kube-version',
      o.kubeVersion ?? DEFAULT_KUBE_VERSION,
      ...(await valuesArgs(values)),
      ...(o.extraArgs ?? []),
    ];
    return (await run(args)).stdout;
  };

  return {
    bin,
    run,
    async lint(chartDir, values) {
      const dir = await prepare(chartDir);
      const r = await run(['lint', '--strict', dir, ...(await valuesArgs(values))]);
      return r.stdout + r.stderr;
    },
    templateYaml,
    async template(chartDir, values, o) {
      return parseObjects(await templateYaml(chartDir, values, o));
    },
    async dispose() {
      await rm(work, {recursive: true, force: true});
    },
  };
}

/** Parses helm's multi-document output; empty documents (a template that rendered nothing) are dropped. */
export function parseObjects(text: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new HelmError('HELM_BAD_OUTPUT', `helm printed invalid YAML: ${doc.errors[0]!.message}`, {cause: doc.errors[0]});
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    const o = value as Partial<KubeObject>;
    if (typeof o !== 'object' || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') {
      throw new HelmError('HELM_BAD_OUTPUT', `helm rendered a document that is not a Kubernetes object: ${JSON.stringify(value).slice(0, 200)}`);
    }
    objects.push(o as KubeObject);
  }
  return objects;
}

/**
 * Renders a chart with a real helm and returns the parsed objects (for the cluster simulation: feed it the rendered
 * Deployment and Service). One-shot: installs helm if needed, renders from a private copy, cleans up.
 */
export async function renderChart(chartDir: string, values: object = {}, options: TemplateOptions = {}): Promise<KubeObject[]> {
  const helm = await createHelm();
  try {
    return await helm.template(chartDir, values, options);
  } finally {
    await helm.dispose();
  }
}

/** The one object of this kind (and name, if given); throws when there is none or more than one. */
export function findObject<T extends KubeObject = KubeObject>(objects: readonly KubeObject[], kind: string, name?: string): T {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` named ${name}` : ''}, found ${found.length} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  }
  return found[0] as T;
}

export function objectId(o: KubeObject): string {
  return `${o.apiVersion} ${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/**
 * Validates one object against the Kubernetes OpenAPI schemas, twice over:
 * - kubernetes-models' generated JSON-schema validator (types, required fields, enums, formats);
 * - unknown fields, which those schemas let through: the object is walked along @kubernetes/client-node's generated
 *   attribute maps (the same OpenAPI spec), so a misspelt or misplaced field (`restartpolicy`, `preStop` on the pod)
 *   fails like `kubectl apply --validate=strict` would.
 * Throws ManifestError; MANIFEST_UNKNOWN_KIND for kinds neither package knows (CRDs such as PrometheusRule).
 */
export async function validateObject(o: KubeObject): Promise<void> {
  const id = objectId(o);
  const slash = o.apiVersion.indexOf('/');
  const group = slash >= 0 ? o.apiVersion.slice(0, slash) : '';
  const version = slash >= 0 ? o.apiVersion.slice(slash + 1) : o.apiVersion;
  let Model: {new (data: object): {validate(): void}} | undefined;
  try {
    const mod = (await import(`kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`)) as Record<string, unknown>;
    Model = mod[o.kind] as typeof Model;
  } catch (cause) {
    throw new ManifestError('MANIFEST_UNKNOWN_KIND', id, 'no schema for this kind in kubernetes-models', {cause});
  }
  if (!Model) throw new ManifestError('MANIFEST_UNKNOWN_KIND', id, 'no schema for this kind in kubernetes-models');
  try {
    new Model(o).validate();
  } catch (cause) {
    throw new ManifestError('MANIFEST_INVALID', id, (cause as Error).message, {cause});
  }
  const className = `${version.charAt(0).toUpperCase()}${version.slice(1)}${o.kind}`;
  // Loaded on first use: the client's module graph is large, and most users of this file never validate.
  const models = (await import('@kubernetes/client-node')) as unknown as Models;
  const problems = unknownFields(models, o, className, '');
  if (problems.length > 0) throw new ManifestError('MANIFEST_UNKNOWN_FIELD', id, `unknown field(s): ${problems.join(', ')}`);
}

interface AttributeType {
  baseName: string;
  type: string;
}

type Models = Record<string, {getAttributeTypeMap?: () => AttributeType[]} | undefined>;

/** Paths of fields that the OpenAPI type `typeName` (a client-node model name) does not have, recursively. */
function unknownFields(models: Models, value: unknown, typeName: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(typeName);
  if (array) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(models, v, array[1]!, `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(typeName);
  if (map) return typeof value === 'object' ? Object.entries(value).flatMap(([k, v]) => unknownFields(models, v, map[1]!, `${path}.${k}`)) : [];
  const attributes = models[typeName]?.getAttributeTypeMap?.();
  // Primitives (string, number, boolean, Date, IntOrString, any, object) have no fields to check.
  if (!attributes || typeof value !== 'object') return [];
  const known = new Map(attributes.map((a) => [a.baseName, a.type]));
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const type = known.get(key);
    const at = path ? `${path}.${key}` : key;
    if (type === undefined) problems.push(at);
    else problems.push(...unknownFields(models, v, type, at));
  }
  return problems;
}

/** Minimal shapes of what the chart tests read from a rendered pod template (the full types are the API's). */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {fieldRef?: {fieldPath: string}; secretKeyRef?: {name: string; key: string}};
}
export interface HttpGet {
  path: string;
  port: number | string;
  scheme?: string;
}
export interface Container {
  name: string;
  image: string;
  env?: EnvVar[];
  ports?: {name?: string; containerPort: number; protocol?: string}[];
  startupProbe?: {httpGet?: HttpGet; periodSeconds?: number; failureThreshold?: number};
  readinessProbe?: {httpGet?: HttpGet; periodSeconds?: number; failureThreshold?: number};
  livenessProbe?: {httpGet?: HttpGet; periodSeconds?: number; failureThreshold?: number};
  lifecycle?: {preStop?: {httpGet?: HttpGet; exec?: {command: string[]}; sleep?: {seconds: number}}};
  restartPolicy?: string;
  securityContext?: Record<string, unknown> & {runAsUser?: number; capabilities?: {drop?: string[]; add?: string[]}};
  volumeMounts?: {name: string; mountPath: string; readOnly?: boolean}[];
  resources?: {requests?: Record<string, string>; limits?: Record<string, string>};
}
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: ({name: string} & Record<string, unknown>)[];
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  shareProcessNamespace?: boolean;
  terminationGracePeriodSeconds?: number;
  securityContext?: Record<string, unknown>;
}

/** The pod template spec of a rendered Deployment (or any workload with spec.template.spec). */
export function podSpecOf(workload: KubeObject): PodSpec {
  const spec = (workload.spec as {template?: {spec?: PodSpec}} | undefined)?.template?.spec;
  if (!spec) throw new Error(`${objectId(workload)} has no spec.template.spec`);
  return spec;
}
