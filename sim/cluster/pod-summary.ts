/**
 * Per-pod facts of a run, from what the kubelet recorded and what lameduck logged: when each pod was created, became
 * Ready, was deleted, had every container exited and was removed, and the phases to shade on the timeline
 * (lameduck's own phases where it ran, kubelet's hook / SIGTERM stages otherwise).
 */
import type {DeploymentControllerEvent} from './deployment-controller.js';
import type {PodRecorder} from './pod-recorder.js';

export type PhaseName =
  | 'starting'
  | 'serving'
  | 'prestop'
  | 'stopping'
  | 'deregistering'
  | 'settling'
  | 'closing'
  | 'releasing'
  | 'exiting'
  | 'evicting';

export interface PodPhase {
  name: PhaseName;
  from: number;
  /** undefined: still in it at the end of the run. */
  to?: number;
}

export interface PodSummary {
  name: string;
  revision?: string;
  ip?: string;
  createdAt: number;
  readyAt?: number;
  /** Kubelet saw the deletion (or evicted it) and started terminating. */
  terminatingAt?: number;
  /** Every container exited. */
  terminatedAt?: number;
  removedAt?: number;
  /** terminatingAt → terminatedAt. */
  terminationMs?: number;
  /** A container had to be SIGKILLed. */
  sigkilled: boolean;
  exits: {container: string; exitCode?: number; signal?: string | null; at: number}[];
  /** lameduck's phase transitions (`{"msg":"phase","to":...}`), if a lameduck container ran. */
  lameduckPhases: {to: string; at: number}[];
  phases: PodPhase[];
}

const LAMEDUCK_PHASES = new Set(['deregistering', 'settling', 'closing', 'releasing', 'done']);

export function podSummaries(recorder: PodRecorder, deploymentEvents: readonly DeploymentControllerEvent[]): PodSummary[] {
  const byPod = new Map<string, PodSummary>();
  for (const e of recorder.events) {
    let s = byPod.get(e.pod);
    if (!s) {
      s = {name: e.pod, createdAt: e.at, sigkilled: false, exits: [], lameduckPhases: [], phases: []};
      byPod.set(e.pod, s);
    }
    switch (e.type) {
      case 'created':
        s.createdAt = e.at;
        s.ip = e.detail?.ip as string | undefined;
        break;
      case 'ready':
        s.readyAt ??= e.at;
        break;
      case 'terminating':
        s.terminatingAt ??= e.at;
        break;
      case 'terminated':
        s.terminatedAt ??= e.at;
        break;
      case 'removed':
        s.removedAt ??= e.at;
        break;
      case 'sigkill':
        s.sigkilled = true;
        break;
      case 'container-exited':
        s.exits.push({container: e.container ?? '', exitCode: e.detail?.exitCode as number | undefined, signal: e.detail?.signal as string | null | undefined, at: e.at});
        break;
    }
  }
  for (const d of deploymentEvents) {
    if (d.type === 'pod-created' && d.pod) {
      const s = byPod.get(d.pod);
      if (s) s.revision = d.revision;
    }
  }
  for (const s of byPod.values()) {
    if (s.terminatingAt !== undefined && s.terminatedAt !== undefined) s.terminationMs = s.terminatedAt - s.terminatingAt;
    for (const l of recorder.jsonLogs(s.name, 'lameduck')) {
      if (l.entry.msg === 'phase' && typeof l.entry.to === 'string' && LAMEDUCK_PHASES.has(l.entry.to)) s.lameduckPhases.push({to: l.entry.to, at: l.at});
    }
    s.phases = phasesOf(s, recorder);
  }
  return [...byPod.values()].sort((a, b) => a.createdAt - b.createdAt);
}

function phasesOf(s: PodSummary, recorder: PodRecorder): PodPhase[] {
  const out: PodPhase[] = [];
  const end = s.terminatedAt;
  const servingEnd = s.terminatingAt ?? end;
  if (s.readyAt !== undefined && (servingEnd === undefined || s.readyAt < servingEnd)) {
    out.push({name: 'starting', from: s.createdAt, to: s.readyAt});
    out.push({name: 'serving', from: s.readyAt, to: servingEnd});
  } else {
    out.push({name: 'starting', from: s.createdAt, to: servingEnd});
  }
  if (s.terminatingAt === undefined) return out;
  if (s.lameduckPhases.length > 0) {
    // Before lameduck's trigger arrives (a few ms) the pod is simply deregistering.
    let from = s.terminatingAt;
    let name: PhaseName = 'deregistering';
    for (const p of s.lameduckPhases) {
      if (p.to === 'deregistering') {
        from = Math.min(from, p.at);
        continue;
      }
      out.push({name, from, to: p.at});
      name = p.to === 'done' ? 'exiting' : (p.to as PhaseName);
      from = p.at;
    }
    out.push({name, from, to: end});
    return out;
  }
  const appSigterm = recorder.events.find((e) => e.pod === s.name && e.type === 'sigterm' && e.container === 'app');
  const hook = recorder.events.some((e) => e.pod === s.name && e.type === 'prestop-start');
  if (hook && appSigterm) {
    out.push({name: 'prestop', from: s.terminatingAt, to: appSigterm.at});
    out.push({name: 'stopping', from: appSigterm.at, to: end});
  } else {
    out.push({name: 'stopping', from: s.terminatingAt, to: end});
  }
  return out;
}
