// Small builders for the objects tests create most: a running pod with an IP and containers, and a Service selecting
// pods by label. They return plain wire objects to hand to the Store.
import {markReady} from './pod-status.js';
import type {Pod, Service, ServicePort} from './types.js';

export interface PodFixture {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  /** Pod IP (e.g. 127.0.0.12); omit for a pod that has none yet. */
  ip?: string;
  /** Ready condition True (with the Running phase). Default false. */
  ready?: boolean;
  phase?: string;
  nodeName?: string;
  terminationGracePeriodSeconds?: number;
  /** Container ports, all on one container named `app`; a name makes it resolvable as a named targetPort. */
  ports?: {containerPort: number; name?: string}[];
}

export function makePod(f: PodFixture): Pod {
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {name: f.name, namespace: f.namespace ?? 'default', labels: f.labels ?? {}},
    spec: {
      containers: [{name: 'app', image: 'lameduck/demo-app', ports: (f.ports ?? []).map((p) => ({...p, protocol: 'TCP'}))}],
      ...(f.nodeName ? {nodeName: f.nodeName} : {}),
      ...(f.terminationGracePeriodSeconds !== undefined ? {terminationGracePeriodSeconds: f.terminationGracePeriodSeconds} : {}),
    },
    status: {
      phase: f.phase ?? (f.ip ? 'Running' : 'Pending'),
      ...(f.ip ? {podIP: f.ip, podIPs: [{ip: f.ip}], hostIP: '127.0.0.1'} : {}),
      containerStatuses: [{name: 'app', ready: false, restartCount: 0, started: !!f.ip, state: f.ip ? {running: {}} : {waiting: {reason: 'ContainerCreating'}}}],
    },
  };
  markReady(pod, f.ready ?? false);
  return pod;
}

export interface ServiceFixture {
  name: string;
  namespace?: string;
  selector?: Record<string, string>;
  ports?: ServicePort[];
  publishNotReadyAddresses?: boolean;
  annotations?: Record<string, string>;
  internalTrafficPolicy?: 'Cluster' | 'Local';
}

export function makeService(f: ServiceFixture): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {name: f.name, namespace: f.namespace ?? 'default', ...(f.annotations ? {annotations: f.annotations} : {})},
    spec: {
      ...(f.selector ? {selector: f.selector} : {}),
      ports: f.ports ?? [{name: 'http', port: 80, targetPort: 8080, protocol: 'TCP'}],
      ...(f.publishNotReadyAddresses !== undefined ? {publishNotReadyAddresses: f.publishNotReadyAddresses} : {}),
      ...(f.internalTrafficPolicy ? {internalTrafficPolicy: f.internalTrafficPolicy} : {}),
    },
  };
}
