/**
 * The JSON shapes lameduck reads from the Kubernetes API, exactly as they travel over HTTP (timestamps are RFC 3339
 * strings). Only the fields lameduck uses are typed; `null` is allowed where the API server sends it (e.g. the
 * `endpoints: null` of a Service without endpoints). References:
 * https://kubernetes.io/docs/reference/kubernetes-api/service-resources/endpoint-slice-v1/
 */

export interface WireMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  deletionTimestamp?: string | null;
  deletionGracePeriodSeconds?: number | null;
  labels?: Record<string, string> | null;
}

export interface WireEndpointConditions {
  /** nil = unknown; consumers treat it as ready. */
  ready?: boolean | null;
  /** nil = defer to `ready`. */
  serving?: boolean | null;
  /** nil = not terminating. */
  terminating?: boolean | null;
}

export interface WireEndpoint {
  addresses?: string[] | null;
  conditions?: WireEndpointConditions | null;
  targetRef?: {kind?: string; name?: string; namespace?: string; uid?: string} | null;
  nodeName?: string | null;
}

export interface WireEndpointSlice {
  metadata: WireMeta;
  addressType?: string;
  endpoints?: WireEndpoint[] | null;
}

export interface WireService {
  metadata: WireMeta;
  spec?: {
    publishNotReadyAddresses?: boolean | null;
    internalTrafficPolicy?: string | null;
    externalTrafficPolicy?: string | null;
    type?: string;
    /** `None` for a headless Service (reached through DNS, never through kube-proxy). */
    clusterIP?: string | null;
  } | null;
}

export interface WirePod {
  metadata: WireMeta;
  spec?: {terminationGracePeriodSeconds?: number | null; nodeName?: string | null} | null;
  status?: {
    phase?: string;
    conditions?: {type: string; status: string; reason?: string | null}[] | null;
  } | null;
}

export interface WireList<T> {
  metadata?: {resourceVersion?: string};
  items?: T[] | null;
}

/** The `Status` object the API server sends with every error and in watch `ERROR` events. */
export interface WireStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

export interface WireWatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T | WireStatus;
}

/** The label the EndpointSlice controller (and kube-proxy) groups slices by. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * Set by the EndpointSlice controller on the slices of a `clusterIP: None` Service. kube-proxy's informer selects
 * slices with `!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name`
 * (https://github.com/kubernetes/kubernetes/blob/master/cmd/kube-proxy/app/server.go), so it never proxies them.
 */
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';

/** A Service (and so its slices) handed to a proxy other than kube-proxy (KEP-2007 style service-proxy-name). */
export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
