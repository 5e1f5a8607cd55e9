/**
 * A Deployment controller (with its ReplicaSets folded in): keeps `replicas` pods of the current template and rolls
 * a new template out the way pkg/controller/deployment's RollingUpdate does:
 * - pods carry `pod-template-hash` (the template revision); pods being deleted (deletionTimestamp) or in a terminal
 *   phase do not count, as in Kubernetes (a terminating pod no longer belongs to the ReplicaSet's replicas);
 * - scale up the new revision while the total stays within `replicas + maxSurge`;
 * - scale down the old revision only while at least `replicas - maxUnavailable` pods stay available (Ready; no
 *   minReadySeconds), old not-ready pods first; so with maxUnavailable 0 a new pod must be Ready before an old one is
 *   deleted;
 * - deletes go through the API store with the pod's own grace period (terminationGracePeriodSeconds), like the
 *   ReplicaSet controller's default DeleteOptions.
 * maxSurge / maxUnavailable accept numbers or percentages (surge rounds up, unavailable down; both 0 → unavailable 1).
 */
import {createHash} from 'node:crypto';
import type {Store} from '../kube/store.js';
import type {Pod, PodSpec} from '../kube/types.js';
import {isPodReady, isTerminalPhase} from '../kube/pod-status.js';

export const TEMPLATE_HASH_LABEL = 'pod-template-hash';

export interface PodTemplate {
  metadata: {labels: Record<string, string>; annotations?: Record<string, string>};
  spec: PodSpec;
}

export interface DeploymentSpec {
  name: string;
  namespace?: string;
  replicas: number;
  template: PodTemplate;
  strategy?: {maxSurge?: number | string; maxUnavailable?: number | string};
}

export interface DeploymentStatus {
  revision: string;
  replicas: number;
  updated: number;
  ready: number;
  old: number;
  terminating: number;
}

export interface RolloutRecord {
  revision: string;
  startedAt: number;
  /** All new pods Ready and no old pod left that is not being deleted. */
  completedAt?: number;
}

export interface DeploymentControllerEvent {
  at: number;
  type: 'pod-created' | 'pod-deleted' | 'rollout-started' | 'rollout-complete';
  pod?: string;
  revision: string;
}

export interface DeploymentController {
  /** Replaces the template (a new revision) and returns the rollout's record; a no-op change returns the current one. */
  rollout(update: (template: PodTemplate) => PodTemplate | void): RolloutRecord;
  /** Resolves when the current rollout (or the initial scale-up) is complete. */
  waitForRollout(timeoutMs?: number): Promise<RolloutRecord>;
  status(): DeploymentStatus;
  readonly rollouts: readonly RolloutRecord[];
  readonly events: readonly DeploymentControllerEvent[];
  stop(): void;
}

export class RolloutTimeoutError extends Error {
  readonly code = 'ROLLOUT_TIMEOUT';
  constructor(name: string, timeoutMs: number, status: DeploymentStatus) {
    super(`deployment ${name}: rollout not complete after ${timeoutMs} ms (${JSON.stringify(status)})`);
    this.name = 'RolloutTimeoutError';
  }
}

/** Resolves an int-or-percent against the replica count (roundUp for maxSurge, down for maxUnavailable). */
export function resolveIntOrPercent(value: number | string | undefined, total: number, roundUp: boolean, fallback: string): number {
  const v = value ?? fallback;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) {
    if (/^\d+$/.test(v)) return Number(v);
    throw new RangeError(`invalid int-or-percent ${JSON.stringify(v)}`);
  }
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

function templateHash(template: PodTemplate): string {
  // Kubernetes uses FNV-32a over the template plus a collision count, rendered in a safe alphabet; any stable
  // digest that changes with the template does the same job here.
  const digest = createHash('sha256').update(JSON.stringify(template)).digest();
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < 10; i++) s += alphabet[digest[i]! % alphabet.length];
  return s;
}

export interface DeploymentControllerOptions {
  store: Store;
  deployment: DeploymentSpec;
  resyncMs?: number;
  onEvent?: (e: DeploymentControllerEvent) => void;
  /**
   * Mutating admission for the pods it creates (the API server's webhooks, api.admission), as a pod created through
   * the API would pass it. A create that admission refuses is tried again at the next reconcile, as the ReplicaSet
   * controller does.
   */
  admit?: (pod: Pod) => Promise<Pod>;
  /** Nodes to bind new pods to, in turn (the scheduler's spreading, simplified); default the store's node. */
  nodes?: readonly string[];
}

export function createDeploymentController(opts: DeploymentControllerOptions): DeploymentController {
  const {store} = opts;
  let nextNode = 0;
  const spec = structuredClone(opts.deployment);
  const ns = spec.namespace ?? 'default';
  const selector = Object.entries(spec.template.metadata.labels).map(([k, v]) => `${k}=${v}`).join(',');
  let template = structuredClone(spec.template);
  let revision = templateHash(template);
  const rollouts: RolloutRecord[] = [{revision, startedAt: Date.now()}];
  const events: DeploymentControllerEvent[] = [];
  let stopped = false;
  let scheduled = false;
  let pendingCreates = 0;

  const emit = (e: Omit<DeploymentControllerEvent, 'at' | 'revision'>): void => {
    const full = {...e, at: Date.now(), revision};
    events.push(full);
    opts.onEvent?.(full);
  };

  function pods(): Pod[] {
    return store.list<Pod>('pods', ns, {labelSelector: selector});
  }

  function strategy(): {maxSurge: number; maxUnavailable: number} {
    let maxSurge = resolveIntOrPercent(spec.strategy?.maxSurge, spec.replicas, true, '25%');
    let maxUnavailable = resolveIntOrPercent(spec.strategy?.maxUnavailable, spec.replicas, false, '25%');
    if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
    maxSurge = Math.max(0, maxSurge);
    return {maxSurge, maxUnavailable};
  }

  function createPod(): void {
    const labels = {...template.metadata.labels, [TEMPLATE_HASH_LABEL]: revision};
    const pod: Pod = {
      metadata: {
        generateName: `${spec.name}-${revision}-`,
        namespace: ns,
        labels,
        annotations: template.metadata.annotations ? {...template.metadata.annotations} : undefined,
        ownerReferences: [{apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${spec.name}-${revision}`, uid: `rs-${revision}`, controller: true, blockOwnerDeletion: true}],
      },
      spec: structuredClone(template.spec),
    };
    if (opts.nodes && opts.nodes.length > 0) pod.spec.nodeName = opts.nodes[nextNode++ % opts.nodes.length];
    if (!pod.metadata.annotations) delete pod.metadata.annotations;
    if (!opts.admit) {
      const created = store.createPod(pod);
      emit({type: 'pod-created', pod: created.metadata.name});
      return;
    }
    // Counted as a new pod while admission runs, so that the surge budget is not spent twice.
    pendingCreates++;
    opts
      .admit(pod)
      .then((admitted) => {
        if (stopped) return;
        const created = store.createPod(admitted);
        emit({type: 'pod-created', pod: created.metadata.name});
      })
      .catch(() => undefined)
      .finally(() => {
        pendingCreates--;
        schedule();
      });
  }

  function deletePod(p: Pod): void {
    try {
      // Default DeleteOptions: the pod's terminationGracePeriodSeconds applies.
      store.deletePod(ns, p.metadata.name ?? '');
      emit({type: 'pod-deleted', pod: p.metadata.name});
    } catch {
      // already gone
    }
  }

  function reconcile(): void {
    scheduled = false;
    if (stopped) return;
    const all = pods();
    const active = all.filter((p) => !p.metadata.deletionTimestamp && !isTerminalPhase(p));
    const isNew = (p: Pod): boolean => p.metadata.labels?.[TEMPLATE_HASH_LABEL] === revision;
    const newPods = active.filter(isNew);
    const oldPods = active.filter((p) => !isNew(p));
    const {maxSurge, maxUnavailable} = strategy();
    const replicas = spec.replicas;

    // Scale up the new revision within the surge budget.
    if (newPods.length + pendingCreates < replicas) {
      const allowed = Math.min(replicas + maxSurge - active.length - pendingCreates, replicas - newPods.length - pendingCreates);
      for (let i = 0; i < allowed; i++) createPod();
    }

    const newReady = newPods.filter(isPodReady).length;
    if (oldPods.length > 0) {
      const minAvailable = replicas - maxUnavailable;
      // What may go without dropping below minAvailable, new pods that are not ready yet counting as unavailable.
      let budget = active.length - minAvailable - (newPods.length - newReady);
      let available = newReady + oldPods.filter(isPodReady).length;
      const ordered = [...oldPods.filter((p) => !isPodReady(p)), ...oldPods.filter(isPodReady)];
      for (const p of ordered) {
        if (budget <= 0) break;
        if (isPodReady(p)) {
          if (available - 1 < minAvailable) break;
          available--;
        }
        budget--;
        deletePod(p);
      }
    } else if (newPods.length > replicas) {
      const extra = [...newPods.filter((p) => !isPodReady(p)), ...newPods.filter(isPodReady)].slice(0, newPods.length - replicas);
      for (const p of extra) deletePod(p);
    }

    const current = rollouts[rollouts.length - 1]!;
    const after = pods().filter((p) => !p.metadata.deletionTimestamp && !isTerminalPhase(p));
    const done = after.length === replicas && after.every((p) => isNew(p) && isPodReady(p));
    if (done && current.completedAt === undefined) {
      current.completedAt = Date.now();
      emit({type: 'rollout-complete'});
    }
  }

  function schedule(): void {
    if (scheduled || stopped) return;
    scheduled = true;
    setImmediate(reconcile);
  }

  const unsubscribe = store.on<Pod>('pods', (e) => {
    const labels = e.object.metadata.labels ?? {};
    if (e.object.metadata.namespace === ns && Object.entries(template.metadata.labels).every(([k, v]) => labels[k] === v)) schedule();
  });
  // A safety net like the informer's resync: nothing waits forever on a missed event.
  const resync = setInterval(schedule, opts.resyncMs ?? 500);
  emit({type: 'rollout-started'});
  schedule();

  function status(): DeploymentStatus {
    const all = pods();
    const active = all.filter((p) => !p.metadata.deletionTimestamp && !isTerminalPhase(p));
    const updated = active.filter((p) => p.metadata.labels?.[TEMPLATE_HASH_LABEL] === revision);
    return {
      revision,
      replicas: active.length,
      updated: updated.length,
      ready: active.filter(isPodReady).length,
      old: active.length - updated.length,
      terminating: all.filter((p) => p.metadata.deletionTimestamp).length,
    };
  }

  return {
    rollouts,
    events,
    status,
    rollout(update) {
      const next = structuredClone(template);
      const result = update(next) ?? next;
      const nextRevision = templateHash(result);
      if (nextRevision === revision) return rollouts[rollouts.length - 1]!;
      for (const [k, v] of Object.entries(template.metadata.labels)) {
        if (result.metadata.labels[k] !== v) throw new RangeError(`the template's selector labels cannot change (${k})`);
      }
      template = result;
      revision = nextRevision;
      const record: RolloutRecord = {revision, startedAt: Date.now()};
      rollouts.push(record);
      emit({type: 'rollout-started'});
      schedule();
      return record;
    },
    async waitForRollout(timeoutMs = 120_000) {
      const record = rollouts[rollouts.length - 1]!;
      const until = Date.now() + timeoutMs;
      while (record.completedAt === undefined) {
        if (Date.now() > until || stopped) throw new RolloutTimeoutError(spec.name, timeoutMs, status());
        await new Promise((r) => setTimeout(r, 50));
      }
      return record;
    },
    stop() {
      stopped = true;
      unsubscribe();
      clearInterval(resync);
    },
  };
}
