/**
 * Services that reach an injected pod by the app's port NUMBER would bypass lameduck (it took the port's name, and
 * listens on another number). In the same input (CLI, post-renderer) such Services are rewritten to target lameduck's
 * traffic port by name; a Service that already targets the name needs nothing.
 */
import type {PatchOp} from './json-patch.js';
import type {KubeObject} from './types.js';

export interface InjectedWorkload {
  id: string;
  namespace?: string;
  /** The pod template's labels: what a Service's selector matches. */
  labels: Record<string, string>;
  appPort: number;
  /** The scheme lameduck forwards to the app with. */
  appProtocol: 'http' | 'h2c';
  trafficName: string;
}

interface ServicePort {
  port?: number;
  targetPort?: number | string;
  protocol?: string;
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The ops that point this Service's numeric targetPorts at lameduck; [] when none needs it. */
export function rewriteService(service: KubeObject, workloads: readonly InjectedWorkload[]): {ops: PatchOp[]; changed: string[]} {
  const spec = service.spec as {selector?: Record<string, string>; ports?: ServicePort[]} | undefined;
  const ops: PatchOp[] = [];
  const changed: string[] = [];
  const selected = workloads.filter((w) => (w.namespace ?? '') === (service.metadata?.namespace ?? '') && selects(spec?.selector, w.labels));
  (spec?.ports ?? []).forEach((p, i) => {
    if ((p.protocol ?? 'TCP') !== 'TCP') return;
    // An unset targetPort means the port number itself (Service API defaulting).
    const target = p.targetPort ?? p.port;
    const numeric = typeof target === 'number' ? target : /^\d+$/.test(String(target)) ? Number(target) : undefined;
    if (numeric === undefined) return;
    const w = selected.find((x) => x.appPort === numeric);
    if (!w) return;
    ops.push({op: p.targetPort === undefined ? 'add' : 'replace', path: ['spec', 'ports', i, 'targetPort'], value: w.trafficName});
    changed.push(`${numeric} -> ${w.trafficName} (${w.id})`);
  });
  return {ops, changed};
}
