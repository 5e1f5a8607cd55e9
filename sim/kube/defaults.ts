// Defaulting the real API server applies on create (the fields kubectl and clients see filled in without having sent
// them). Only what someone reads is defaulted; see docs/simulation.md.
import type {KubeObject, Namespace, Pod, Service} from './types.js';

export interface DefaultingContext {
  /** Node every pod is bound to at creation when it names none (there is no scheduler). */
  nodeName: string;
  /** Next free ClusterIP from the service CIDR. */
  allocateClusterIP(): string;
}

function defaultPod(pod: Pod, ctx: DefaultingContext): void {
  const spec = pod.spec;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.serviceAccountName ??= 'default';
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  spec.priority ??= 0;
  spec.nodeName ??= ctx.nodeName;
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
    c.imagePullPolicy ??= typeof c.image === 'string' && !c.image.includes(':') ? 'Always' : 'IfNotPresent';
    c.resources ??= {};
    for (const p of c.ports ?? []) p.protocol ??= 'TCP';
  }
  const status = (pod.status ??= {});
  status.phase ??= 'Pending';
  status.qosClass ??= 'BestEffort';
  // podIP and podIPs describe the same thing; clients read either.
  if (status.podIP && !status.podIPs) status.podIPs = [{ip: status.podIP}];
  if (!status.podIP && status.podIPs?.length) status.podIP = status.podIPs[0].ip;
}

function defaultService(svc: Service, ctx: DefaultingContext): void {
  const spec = svc.spec;
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  if (spec.type !== 'ExternalName') {
    spec.clusterIP ??= ctx.allocateClusterIP();
    spec.clusterIPs ??= [spec.clusterIP];
    spec.ipFamilies ??= ['IPv4'];
    spec.ipFamilyPolicy ??= 'SingleStack';
    spec.internalTrafficPolicy ??= 'Cluster';
  }
  for (const p of spec.ports ?? []) {
    p.protocol ??= 'TCP';
    p.targetPort ??= p.port;
  }
  svc.status ??= {loadBalancer: {}};
}

function defaultNamespace(ns: Namespace): void {
  const name = ns.metadata.name ?? '';
  ns.metadata.labels = {...ns.metadata.labels, 'kubernetes.io/metadata.name': name};
  ns.spec ??= {finalizers: ['kubernetes']};
  ns.status ??= {phase: 'Active'};
}

export function applyDefaults(resource: string, obj: KubeObject, ctx: DefaultingContext): void {
  if (resource === 'pods') defaultPod(obj as Pod, ctx);
  else if (resource === 'services') defaultService(obj as Service, ctx);
  else if (resource === 'namespaces') defaultNamespace(obj as Namespace);
}
