// Wire-form (JSON) shapes of the Kubernetes objects the simulation stores. Timestamps are RFC 3339 strings, exactly as
// they travel over HTTP — unlike @kubernetes/client-node's model classes, which turn them into Date objects. Only the
// fields the simulation reads are typed; every object may carry more, which the store keeps untouched.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [extra: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [extra: string]: unknown;
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown' | string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string | null;
  [extra: string]: unknown;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
  [extra: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  ports?: ContainerPort[];
  restartPolicy?: string;
  [extra: string]: unknown;
}

export interface ContainerStatus {
  name: string;
  ready: boolean;
  restartCount: number;
  started?: boolean;
  state?: {
    waiting?: {reason?: string; message?: string};
    running?: {startedAt?: string};
    terminated?: {exitCode: number; reason?: string; signal?: number; startedAt?: string; finishedAt?: string};
  };
  [extra: string]: unknown;
}

export interface PodStatus {
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown' | string;
  conditions?: PodCondition[];
  podIP?: string;
  podIPs?: {ip: string}[];
  hostIP?: string;
  startTime?: string;
  reason?: string;
  message?: string;
  containerStatuses?: ContainerStatus[];
  initContainerStatuses?: ContainerStatus[];
  [extra: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  nodeName?: string;
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
  [extra: string]: unknown;
}

export interface Pod extends KubeObject {
  spec: PodSpec;
  status?: PodStatus;
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
  nodePort?: number;
  [extra: string]: unknown;
}

export interface ServiceSpec {
  selector?: Record<string, string>;
  ports?: ServicePort[];
  publishNotReadyAddresses?: boolean;
  clusterIP?: string;
  type?: string;
  internalTrafficPolicy?: 'Cluster' | 'Local' | string;
  externalTrafficPolicy?: 'Cluster' | 'Local' | string;
  [extra: string]: unknown;
}

export interface Service extends KubeObject {
  spec: ServiceSpec;
  status?: Record<string, unknown>;
}

export interface EndpointConditions {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export interface ObjectReference {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

export interface Endpoint {
  addresses: string[];
  conditions?: EndpointConditions;
  targetRef?: ObjectReference;
  nodeName?: string;
  zone?: string;
  [extra: string]: unknown;
}

export interface EndpointPort {
  name?: string;
  port?: number;
  protocol?: string;
  appProtocol?: string;
}

export interface EndpointSlice extends KubeObject {
  addressType: 'IPv4' | 'IPv6' | 'FQDN' | string;
  /** `null` on the placeholder slice of a Service without endpoints, as the real API server sends it. */
  endpoints: Endpoint[] | null;
  ports?: EndpointPort[] | null;
}

export interface EndpointAddress {
  ip: string;
  nodeName?: string;
  targetRef?: ObjectReference;
}

export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: EndpointPort[];
}

/** Legacy core/v1 Endpoints (deprecated in Kubernetes 1.33, still served and maintained). */
export interface Endpoints extends KubeObject {
  subsets?: EndpointSubset[];
}

/** core/v1 Event. */
export interface CoreEvent extends KubeObject {
  involvedObject: ObjectReference;
  reason?: string;
  message?: string;
  type?: 'Normal' | 'Warning' | string;
  count?: number;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  source?: {component?: string; host?: string};
  reportingComponent?: string;
  reportingInstance?: string;
  action?: string;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never> | {resourceVersion?: string};
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: {reason?: string; message?: string; field?: string}[];
    retryAfterSeconds?: number;
  };
  code: number;
}

export interface Namespace extends KubeObject {
  spec?: {finalizers?: string[]};
  status?: {phase?: string};
}
