/** The parts of the Kubernetes pod API the injector reads and writes (the full types are the API's). */
export type Json = null | boolean | number | string | Json[] | {[key: string]: Json};

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Record<string, unknown>;
}
export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
  hostPort?: number;
}
export interface Handler {
  httpGet?: {path?: string; port: number | string; scheme?: string; host?: string; httpHeaders?: {name: string; value: string}[]};
  tcpSocket?: {port: number | string};
  grpc?: {port: number};
  exec?: unknown;
  sleep?: unknown;
  [field: string]: unknown;
}
export interface Container {
  name: string;
  image?: string;
  ports?: ContainerPort[];
  env?: EnvVar[];
  lifecycle?: {preStop?: Handler; postStart?: Handler};
  startupProbe?: Handler;
  readinessProbe?: Handler;
  livenessProbe?: Handler;
  restartPolicy?: string;
  volumeMounts?: {name: string; mountPath: string; readOnly?: boolean}[];
  [field: string]: unknown;
}
export interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  volumes?: ({name: string} & Record<string, unknown>)[];
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  shareProcessNamespace?: boolean;
  [field: string]: unknown;
}
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}
/** A pod template (or a Pod): what injection changes. */
export interface PodTemplate {
  metadata?: ObjectMeta;
  spec?: PodSpec;
}
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: Record<string, unknown>;
  [field: string]: unknown;
}
