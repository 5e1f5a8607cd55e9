/**
 * One AdmissionReview (admission.k8s.io/v1) in, one out: the webhook's decision for a Pod being created.
 * https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#request
 *
 * - A Pod that opted in (or, on the namespace path, did not opt out) gets a JSONPatch (RFC 6902) adding the sidecar.
 * - An already-injected Pod gets an empty patch (idempotent; reinvocationPolicy IfNeeded calls again after other
 *   webhooks changed the Pod, and a re-injection then repairs what they changed).
 * - A Pod the engine cannot protect is denied with a message naming it and what to do (with failurePolicy Ignore
 *   this still denies: a denial is an answer, not a failure).
 * - A numeric Service targetPort: the webhook cannot see Services, so every patch carries a warning naming the port
 *   number that Services must not target any more (docs/injection.md).
 * - A body that is not an AdmissionReview: an error (the caller answers HTTP 400), never a crash.
 */
import {InjectError} from './errors.js';
import {diff, toJsonPatch} from './json-patch.js';
import {injectPodTemplate} from './pod-template.js';
import {settingsFor, type InjectSettings} from './settings.js';
import type {KubeObject, PodTemplate} from './types.js';
import {badChoice, wantsInjection} from './workloads.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/** Which webhook of the configuration called: the namespace opted in, or only pods that opted in themselves. */
export type AdmissionPolicy = 'namespace' | 'pod-opt-in';

export interface AdmissionOptions {
  defaults: Readonly<InjectSettings>;
  version: string;
  policy: AdmissionPolicy;
}

export class BadReviewError extends Error {}

interface AdmissionRequest {
  uid: string;
  kind?: {group?: string; version?: string; kind?: string};
  operation?: string;
  namespace?: string;
  name?: string;
  object?: KubeObject;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
  status?: {code: number; reason?: string; message: string};
}

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

function parseReview(body: unknown): AdmissionRequest {
  if (!body || typeof body !== 'object') throw new BadReviewError('the body is not a JSON object');
  const review = body as {apiVersion?: unknown; kind?: unknown; request?: unknown};
  if (review.kind !== 'AdmissionReview' || review.apiVersion !== ADMISSION_API_VERSION) {
    throw new BadReviewError(`expected kind AdmissionReview, apiVersion ${ADMISSION_API_VERSION}; got kind ${JSON.stringify(review.kind)}, apiVersion ${JSON.stringify(review.apiVersion)}`);
  }
  const request = review.request as Partial<AdmissionRequest> | undefined;
  if (!request || typeof request !== 'object' || typeof request.uid !== 'string' || request.uid === '') {
    throw new BadReviewError('the AdmissionReview has no request.uid');
  }
  return request as AdmissionRequest;
}

/** `Pod ns/name`, or for a controller's pod `Pod ns/web-7d9f-* of ReplicaSet web-7d9f`. */
function podId(request: AdmissionRequest, pod: KubeObject): string {
  const ns = pod.metadata?.namespace ?? request.namespace;
  const name = pod.metadata?.name || request.name || (pod.metadata?.generateName ? `${pod.metadata.generateName}*` : '<unnamed>');
  const owner = (pod.metadata?.ownerReferences as {kind?: string; name?: string}[] | undefined)?.[0];
  return `Pod ${ns ? `${ns}/` : ''}${name}${owner?.kind ? ` of ${owner.kind} ${owner.name}` : ''}`;
}

/** The AdmissionReview answer for one request body (already JSON-parsed); throws BadReviewError for a bad body. */
export function review(body: unknown, options: AdmissionOptions): AdmissionReview {
  const request = parseReview(body);
  const answer = (response: Omit<AdmissionResponse, 'uid'>): AdmissionReview => ({
    apiVersion: ADMISSION_API_VERSION,
    kind: 'AdmissionReview',
    response: {uid: request.uid, ...response},
  });
  const pod = request.object;
  const isPod = request.kind?.kind === 'Pod' && (request.kind.group ?? '') === '';
  if (!isPod || request.operation !== 'CREATE' || !pod || typeof pod !== 'object' || !pod.spec) return answer({allowed: true});
  const id = podId(request, pod);
  try {
    const bad = badChoice([pod.metadata]);
    if (bad !== undefined) throw new InjectError('INJECT_BAD_ANNOTATION', id, `lameduck.io/inject=${JSON.stringify(bad)}: use "true" or "false"`);
    if (!wantsInjection([pod.metadata], options.policy === 'namespace')) return answer({allowed: true});
    const settings = settingsFor(options.defaults, [pod.metadata?.annotations], id);
    const before: PodTemplate = {metadata: pod.metadata ?? {}, spec: pod.spec};
    const r = injectPodTemplate(before, settings, options.version, id);
    if ('alreadyProtected' in r) return answer({allowed: true});
    const ops = diff(before, r.template);
    if (ops.length === 0) return answer({allowed: true});
    const warnings = [
      `lameduck: ${id}: lameduck took over the app's port name ${JSON.stringify(r.trafficName)}; a Service whose targetPort is the number ${r.appPort.number} reaches the app directly, past lameduck: use targetPort: ${r.trafficName}`,
    ];
    return answer({allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(toJsonPatch(ops))).toString('base64'), warnings});
  } catch (err) {
    if (!(err instanceof InjectError)) throw err;
    return answer({allowed: false, status: {code: 403, reason: 'Forbidden', message: `lameduck: ${err.message}`}});
  }
}
