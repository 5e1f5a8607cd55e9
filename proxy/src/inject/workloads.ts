/**
 * Where a workload keeps its pod template, and whether it asked for injection.
 * Pod: itself. CronJob: spec.jobTemplate.spec.template. Deployment, StatefulSet, DaemonSet, ReplicaSet,
 * ReplicationController, Job and any other kind with a standard pod template at spec.template (e.g. Argo Rollout).
 */
import {INJECT_KEY} from './settings.js';
import type {KubeObject, ObjectMeta, PodTemplate} from './types.js';

export type Path = readonly (string | number)[];

export function getIn(value: unknown, path: Path): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

/** The path of the object's pod template ([] for a Pod), or undefined when it has none. */
export function podTemplatePath(o: KubeObject): Path | undefined {
  if (o.kind === 'Pod') return [];
  if (o.kind === 'CronJob') return ['spec', 'jobTemplate', 'spec', 'template'];
  const template = getIn(o, ['spec', 'template']) as PodTemplate | undefined;
  if (template && typeof template === 'object' && Array.isArray(template.spec?.containers)) return ['spec', 'template'];
  return undefined;
}

export function workloadId(o: KubeObject): string {
  const name = o.metadata?.name ?? (o.metadata?.generateName ? `${o.metadata.generateName}*` : '<unnamed>');
  return `${o.kind ?? 'object'} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${name}`;
}

export type Choice = 'in' | 'out' | 'unset';

function choiceOf(meta: ObjectMeta | undefined): Choice {
  const v = meta?.annotations?.[INJECT_KEY] ?? meta?.labels?.[INJECT_KEY];
  if (v === undefined) return 'unset';
  const s = String(v).toLowerCase();
  if (s === 'true' || s === 'enabled') return 'in';
  if (s === 'false' || s === 'disabled') return 'out';
  return 'unset';
}

/** The pod template's choice wins over the workload's; `all` injects what did not opt out. */
export function wantsInjection(metas: readonly (ObjectMeta | undefined)[], all: boolean): boolean {
  let choice: Choice = 'unset';
  for (const m of metas) {
    const c = choiceOf(m);
    if (c !== 'unset') choice = c;
  }
  return choice === 'in' || (choice === 'unset' && all);
}

/** A lameduck.io/inject value that is neither on nor off: refused rather than guessed. */
export function badChoice(metas: readonly (ObjectMeta | undefined)[]): string | undefined {
  for (const m of metas) {
    const v = m?.annotations?.[INJECT_KEY] ?? m?.labels?.[INJECT_KEY];
    if (v !== undefined && !['true', 'false', 'enabled', 'disabled'].includes(String(v).toLowerCase())) return String(v);
  }
  return undefined;
}
