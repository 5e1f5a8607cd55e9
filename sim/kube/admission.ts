// Mutating admission as kube-apiserver does it on create (k8s.io/apiserver/pkg/admission/plugin/webhook/mutating):
// every registered MutatingWebhookConfiguration, in name order, each webhook in order, is matched on its rules,
// namespaceSelector and objectSelector, called over HTTPS with an AdmissionReview v1 (the server certificate verified
// against its caBundle, the call bounded by timeoutSeconds), and its JSONPatch applied — before defaulting and
// storage. A failed call follows failurePolicy (Fail by default in v1); a denial fails the request. Webhooks with
// reinvocationPolicy IfNeeded are called once more when a later webhook changed the object (KEP-1117 reinvocation).
// https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/
import {randomUUID} from 'node:crypto';
import {request} from 'node:https';
import {ApiError} from './errors.js';
import {jsonPatch} from './patch.js';
import type {ResourceInfo} from './resources.js';
import type {KubeObject} from './types.js';

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: {key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[]}[];
}

export interface MutatingWebhook {
  name: string;
  clientConfig: {url?: string; service?: {namespace: string; name: string; path?: string; port?: number}; caBundle?: string};
  rules?: {operations: string[]; apiGroups: string[]; apiVersions: string[]; resources: string[]; scope?: string}[];
  failurePolicy?: 'Ignore' | 'Fail';
  timeoutSeconds?: number;
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  reinvocationPolicy?: 'Never' | 'IfNeeded';
  sideEffects?: string;
  admissionReviewVersions?: string[];
  matchPolicy?: string;
}

export interface MutatingWebhookConfiguration {
  apiVersion?: string;
  kind?: string;
  metadata: {name: string; [k: string]: unknown};
  webhooks: MutatingWebhook[];
}

export interface MutatingAdmissionDeps {
  /** Labels of a namespace (namespaceSelector); undefined when it does not exist. */
  namespaceLabels(namespace: string): Record<string, string> | undefined;
  /** Where a clientConfig.service is reachable (the simulation has no cluster DNS): host:port. */
  resolveService?(namespace: string, name: string, port: number): string | undefined;
}

export interface AdmissionAttributes {
  info: ResourceInfo;
  namespace?: string;
  object: KubeObject;
  user: string;
  dryRun: boolean;
}

export interface MutatingAdmission {
  register(config: MutatingWebhookConfiguration): void;
  unregister(name: string): void;
  /** Webhook calls so far, by webhook name (tests assert reinvocation and selectors with it). */
  calls(name: string): number;
  /** The object after every matching webhook's patch, and their warnings; throws ApiError on denial or a Fail. */
  admitCreate(a: AdmissionAttributes): Promise<{object: KubeObject; warnings: string[]}>;
}

/** admissionregistration/v1 defaults timeoutSeconds to 10. */
const DEFAULT_TIMEOUT_SECONDS = 10;

export function matchesLabelSelector(selector: LabelSelector | undefined, labels: Record<string, string> = {}): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values ?? [];
    if (e.operator === 'In' && !(has && values.includes(labels[e.key]!))) return false;
    // NotIn matches objects without the key too (k8s.io/apimachinery/pkg/labels).
    if (e.operator === 'NotIn' && has && values.includes(labels[e.key]!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

function ruleMatches(w: MutatingWebhook, info: ResourceInfo): boolean {
  return (w.rules ?? []).some(
    (r) =>
      (r.operations.includes('CREATE') || r.operations.includes('*')) &&
      (r.apiGroups.includes(info.group) || r.apiGroups.includes('*')) &&
      (r.apiVersions.includes(info.version) || r.apiVersions.includes('*')) &&
      (r.resources.includes(info.resource) || r.resources.includes('*')),
  );
}

function status(code: number, reason: 'InternalError' | 'BadRequest' | 'Forbidden', message: string): ApiError {
  return new ApiError({kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code});
}

interface ReviewResponse {
  uid?: string;
  allowed?: boolean;
  patch?: string;
  patchType?: string;
  warnings?: string[];
  status?: {code?: number; message?: string; reason?: string};
}

export function createMutatingAdmission(deps: MutatingAdmissionDeps): MutatingAdmission {
  const configs = new Map<string, MutatingWebhookConfiguration>();
  const callCount = new Map<string, number>();

  function target(w: MutatingWebhook): {url: URL; connectTo?: string} {
    if (w.clientConfig.url) return {url: new URL(w.clientConfig.url)};
    const svc = w.clientConfig.service;
    if (!svc) throw new Error('clientConfig has neither url nor service');
    const port = svc.port ?? 443;
    const url = new URL(`https://${svc.name}.${svc.namespace}.svc:${port}${svc.path ?? '/'}`);
    const connectTo = deps.resolveService?.(svc.namespace, svc.name, port);
    if (!connectTo) throw new Error(`service "${svc.namespace}/${svc.name}" has no endpoints`);
    return {url, connectTo};
  }

  /** One HTTPS call; rejects on TLS, timeout, a non-200 or a body that is not an AdmissionReview answer. */
  function call(w: MutatingWebhook, review: object, uid: string): Promise<ReviewResponse> {
    const {url, connectTo} = target(w);
    const timeoutMs = (w.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
    const [host, port] = connectTo ? [connectTo.slice(0, connectTo.lastIndexOf(':')), Number(connectTo.slice(connectTo.lastIndexOf(':') + 1))] : [url.hostname, Number(url.port || 443)];
    const body = JSON.stringify(review);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => req.destroy(new Error(`context deadline exceeded (timeout ${w.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS}s)`)), timeoutMs);
      const req = request(
        {
          host,
          port,
          path: url.pathname + url.search,
          method: 'POST',
          agent: false,
          servername: url.hostname,
          ca: w.clientConfig.caBundle ? Buffer.from(w.clientConfig.caBundle, 'base64').toString('utf8') : undefined,
          headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            clearTimeout(timer);
            if (res.statusCode !== 200) return reject(new Error(`expected response code 200, got ${res.statusCode}`));
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {response?: ReviewResponse};
              if (!parsed.response || parsed.response.uid !== uid) return reject(new Error(`expected response.uid="${uid}", got "${parsed.response?.uid ?? ''}"`));
              resolve(parsed.response);
            } catch (err) {
              reject(new Error(`the response is not an AdmissionReview: ${(err as Error).message}`));
            }
          });
        },
      );
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(body);
    });
  }

  /** Calls one webhook; the patched object, or the same one (ignored failure, no patch). */
  async function invoke(w: MutatingWebhook, a: AdmissionAttributes, object: KubeObject, warnings: string[]): Promise<KubeObject> {
    callCount.set(w.name, (callCount.get(w.name) ?? 0) + 1);
    const uid = randomUUID();
    const gvk = {group: a.info.group, version: a.info.version, kind: a.info.kind};
    const gvr = {group: a.info.group, version: a.info.version, resource: a.info.resource};
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid, kind: gvk, resource: gvr, requestKind: gvk, requestResource: gvr,
        name: object.metadata?.name ?? '', namespace: a.namespace, operation: 'CREATE',
        userInfo: {username: a.user}, object, oldObject: null, dryRun: a.dryRun,
        options: {kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1'},
      },
    };
    let response: ReviewResponse;
    try {
      response = await call(w, review, uid);
    } catch (err) {
      if ((w.failurePolicy ?? 'Fail') === 'Ignore') return object;
      throw status(500, 'InternalError', `Internal error occurred: failed calling webhook "${w.name}": failed to call webhook: ${(err as Error).message}`);
    }
    warnings.push(...(response.warnings ?? []));
    if (!response.allowed) {
      const code = response.status?.code && response.status.code >= 400 ? response.status.code : 400;
      throw status(code, code === 403 ? 'Forbidden' : 'BadRequest', `admission webhook "${w.name}" denied the request: ${response.status?.message ?? 'without explanation'}`);
    }
    if (!response.patch) return object;
    if (response.patchType !== 'JSONPatch') throw status(500, 'InternalError', `Internal error occurred: webhook "${w.name}" answered patchType ${response.patchType}; only JSONPatch is supported`);
    try {
      return jsonPatch(object as never, JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'))) as unknown as KubeObject;
    } catch (err) {
      throw status(500, 'InternalError', `Internal error occurred: webhook "${w.name}" returned an invalid patch: ${(err as Error).message}`);
    }
  }

  return {
    register(config) {
      configs.set(config.metadata.name, structuredClone(config));
    },
    unregister(name) {
      configs.delete(name);
    },
    calls: (name) => callCount.get(name) ?? 0,
    async admitCreate(a) {
      const nsLabels = a.namespace ? deps.namespaceLabels(a.namespace) ?? {} : {};
      // The real server adds kubernetes.io/metadata.name to every namespace (1.21+).
      if (a.namespace) nsLabels['kubernetes.io/metadata.name'] = a.namespace;
      const webhooks = [...configs.values()]
        .sort((x, y) => x.metadata.name.localeCompare(y.metadata.name))
        .flatMap((c) => c.webhooks)
        .filter((w) => ruleMatches(w, a.info) && (!a.info.namespaced || matchesLabelSelector(w.namespaceSelector, nsLabels)));
      const warnings: string[] = [];
      let object = a.object;
      const modifiedBy: number[] = [];
      const invoked: number[] = [];
      for (let i = 0; i < webhooks.length; i++) {
        const w = webhooks[i]!;
        if (!matchesLabelSelector(w.objectSelector, object.metadata?.labels)) continue;
        invoked.push(i);
        const next = await invoke(w, a, object, warnings);
        if (JSON.stringify(next) !== JSON.stringify(object)) modifiedBy.push(i);
        object = next;
      }
      // Reinvocation: once, for IfNeeded webhooks whose input a later webhook changed.
      for (const i of invoked) {
        const w = webhooks[i]!;
        if (w.reinvocationPolicy !== 'IfNeeded' || !modifiedBy.some((j) => j > i)) continue;
        if (!matchesLabelSelector(w.objectSelector, object.metadata?.labels)) continue;
        object = await invoke(w, a, object, warnings);
      }
      return {object, warnings};
    },
  };
}
