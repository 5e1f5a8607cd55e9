/**
 * The injection engine over a set of objects (manifests in, changes out), shared by `lameduck inject`, the Helm
 * post-renderer and the webhook: pod templates that opted in get the sidecar, Services in the same set that target
 * the app's port number are pointed at lameduck, and with `rbac` the Roles are added. Every refusal is collected, so
 * one run reports every workload it could not protect.
 */
import {InjectError} from './errors.js';
import {diff, type PatchOp} from './json-patch.js';
import {injectPodTemplate} from './pod-template.js';
import {rbacObjects, type RbacSubject} from './rbac.js';
import {rewriteService, type InjectedWorkload} from './services.js';
import {INJECTED_ANNOTATION, settingsFor, type InjectSettings} from './settings.js';
import {uninject} from './strip.js';
import type {KubeObject, PodTemplate} from './types.js';
import {badChoice, getIn, podTemplatePath, wantsInjection, workloadId, type Path} from './workloads.js';

export interface EngineOptions {
  defaults: Readonly<InjectSettings>;
  version: string;
  /** Inject every workload that did not opt out (`--all`). */
  all: boolean;
  rbac: boolean;
  /** Namespace for the Roles of workloads that name none; unset: none either (the installer's namespace). */
  namespace?: string;
}

export interface EngineResult {
  /** RFC 6902 operations per input object (same index); [] = unchanged. */
  ops: PatchOp[][];
  /** Objects to add (Roles and RoleBindings). */
  added: KubeObject[];
  errors: InjectError[];
  /** What changed, one line each, for the log. */
  notes: string[];
}

function injectOne(o: KubeObject, templatePath: Path, options: EngineOptions): {ops: PatchOp[]; workload: InjectedWorkload; rbac: RbacSubject} | {removed: PatchOp[]} | 'skipped' {
  const id = workloadId(o);
  const template = (templatePath.length === 0 ? o : getIn(o, templatePath)) as PodTemplate;
  const metas = templatePath.length === 0 ? [o.metadata] : [o.metadata, template.metadata];
  const bad = badChoice(metas);
  if (bad !== undefined) throw new InjectError('INJECT_BAD_ANNOTATION', id, `lameduck.io/inject=${JSON.stringify(bad)}: use "true" or "false"`);
  const annotationSets = templatePath.length === 0 ? [o.metadata?.annotations] : [o.metadata?.annotations, template.metadata?.annotations];
  const before = {metadata: template.metadata, spec: template.spec};
  if (!wantsInjection(metas, options.all)) {
    // Opted out after an injection: lameduck comes out again, rather than staying with the opt-out ignored.
    if (!template.metadata?.annotations?.[INJECTED_ANNOTATION]) return 'skipped';
    const removed = uninject(structuredClone(before), settingsFor(options.defaults, annotationSets, id));
    return {removed: diff(before, removed).map((op) => ({...op, path: [...templatePath, ...op.path]}))};
  }
  const settings = settingsFor(options.defaults, annotationSets, id);
  const r = injectPodTemplate(before, settings, options.version, id);
  if ('alreadyProtected' in r) return 'skipped';
  const ops = diff(before, r.template).map((op) => ({...op, path: [...templatePath, ...op.path]}));
  const namespace = o.metadata?.namespace;
  return {
    ops,
    workload: {id, ...(namespace ? {namespace} : {}), labels: template.metadata?.labels ?? {}, appPort: r.appPort.number, appProtocol: r.appProtocol, trafficName: r.trafficName},
    rbac: {...(namespace ? {namespace} : {}), serviceAccount: template.spec?.serviceAccountName || 'default', watchPod: settings.watchPod},
  };
}

export function runEngine(objects: readonly KubeObject[], options: EngineOptions): EngineResult {
  const result: EngineResult = {ops: objects.map(() => []), added: [], errors: [], notes: []};
  const workloads: InjectedWorkload[] = [];
  const subjects: RbacSubject[] = [];
  objects.forEach((o, i) => {
    const path = podTemplatePath(o);
    if (!path) return;
    try {
      const r = injectOne(o, path, options);
      if (r === 'skipped') return;
      if ('removed' in r) {
        result.ops[i] = r.removed;
        result.notes.push(`${workloadId(o)}: opted out, lameduck removed`);
        return;
      }
      result.ops[i] = r.ops;
      workloads.push(r.workload);
      subjects.push(r.rbac);
      result.notes.push(`${r.workload.id}: ${r.ops.length === 0 ? 'already injected' : `injected (app port ${r.workload.appPort} over ${r.workload.appProtocol === 'h2c' ? 'HTTP/2 (h2c)' : 'HTTP/1.1'}, Services reach lameduck by port name ${r.workload.trafficName})`}`);
    } catch (err) {
      if (!(err instanceof InjectError)) throw err;
      result.errors.push(err);
    }
  });
  objects.forEach((o, i) => {
    if (o.kind !== 'Service') return;
    const {ops, changed} = rewriteService(o, workloads);
    if (ops.length === 0) return;
    result.ops[i] = ops;
    result.notes.push(`${workloadId(o)}: targetPort ${changed.join(', ')}`);
  });
  if (options.rbac && subjects.length > 0) {
    // Idempotent: a Role or RoleBinding already in the input (an earlier --rbac run) is not added twice.
    const key = (o: KubeObject) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
    const present = new Set(objects.map(key));
    result.added = rbacObjects(subjects, options.namespace).filter((o) => !present.has(key(o)));
  }
  return result;
}
