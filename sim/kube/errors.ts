// API errors as the real kube-apiserver words them (k8s.io/apimachinery/pkg/api/errors): clients such as client-go,
// kubectl and @kubernetes/client-node act on `reason` and `code`, and people read `message`, so both match reality.
import type {Status} from './types.js';

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Expired'
  | 'Gone'
  | 'UnsupportedMediaType'
  | 'Invalid'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout';

/** A failed API operation; `code` is the Kubernetes StatusReason, `status` the exact body sent to clients. */
export class ApiError extends Error {
  readonly code: StatusReason;
  readonly httpStatus: number;
  readonly status: Status;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Record<string, string>;

  constructor(status: Status, opts: {headers?: Record<string, string>; cause?: unknown} = {}) {
    super(status.message ?? status.reason ?? 'API error', opts.cause === undefined ? undefined : {cause: opts.cause});
    this.name = 'ApiError';
    this.code = (status.reason ?? 'InternalError') as StatusReason;
    this.httpStatus = status.code;
    this.status = status;
    this.headers = opts.headers ?? {};
  }
}

/** What an error message needs to know about the resource (a subset of ResourceInfo, so errors.ts stays a leaf). */
export interface ResourceRef {
  group: string;
  resource: string;
  kind: string;
}

function failure(code: number, reason: StatusReason, message: string, details?: Status['details']): Status {
  const status: Status = {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code};
  if (details) status.details = details;
  // Real servers put `details` before `code`; JSON key order does not matter to clients, only presence.
  return status;
}

/** `pods` or `endpointslices.discovery.k8s.io` — apimachinery's GroupResource.String(). */
export function qualifiedResource(ref: ResourceRef): string {
  return ref.group ? `${ref.resource}.${ref.group}` : ref.resource;
}

function qualifiedKind(ref: ResourceRef): string {
  return ref.group ? `${ref.kind}.${ref.group}` : ref.kind;
}

function details(ref: ResourceRef, name?: string): NonNullable<Status['details']> {
  const d: NonNullable<Status['details']> = {};
  if (name) d.name = name;
  if (ref.group) d.group = ref.group;
  d.kind = ref.resource;
  return d;
}

export function notFound(ref: ResourceRef, name: string): ApiError {
  return new ApiError(failure(404, 'NotFound', `${qualifiedResource(ref)} "${name}" not found`, details(ref, name)));
}

export function namespaceNotFound(ns: string): ApiError {
  return new ApiError(failure(404, 'NotFound', `namespaces "${ns}" not found`, {name: ns, kind: 'namespaces'}));
}

/** A path that names no resource this server serves. */
export function noSuchResource(): ApiError {
  return new ApiError(failure(404, 'NotFound', 'the server could not find the requested resource', {}));
}

export function alreadyExists(ref: ResourceRef, name: string): ApiError {
  return new ApiError(failure(409, 'AlreadyExists', `${qualifiedResource(ref)} "${name}" already exists`, details(ref, name)));
}

export function conflict(ref: ResourceRef, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError {
  return new ApiError(
    failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(ref)} "${name}": ${why}`, details(ref, name)),
  );
}

export interface FieldCause {
  field: string;
  /** apimachinery field.ErrorType, e.g. FieldValueRequired, FieldValueInvalid. */
  reason: string;
  message: string;
}

export function invalid(ref: ResourceRef, name: string, causes: FieldCause[]): ApiError {
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  const summary = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  const d: NonNullable<Status['details']> = {name};
  if (ref.group) d.group = ref.group;
  d.kind = ref.kind;
  d.causes = causes.map((c) => ({reason: c.reason, message: c.message, field: c.field}));
  return new ApiError(failure(422, 'Invalid', `${qualifiedKind(ref)} "${name}" is invalid: ${summary}`, d));
}

export function badRequest(message: string): ApiError {
  return new ApiError(failure(400, 'BadRequest', message));
}

export function unauthorized(): ApiError {
  return new ApiError(failure(401, 'Unauthorized', 'Unauthorized'));
}

/** RBAC denial, worded like the authorizer's: who, which verb, which resource, where. */
export function forbidden(opts: {
  user: string;
  verb: string;
  ref: ResourceRef;
  subresource?: string;
  namespace?: string;
  name?: string;
}): ApiError {
  const {user, verb, ref, subresource, namespace, name} = opts;
  const subject = name ? `${qualifiedResource(ref)} "${name}"` : qualifiedResource(ref);
  const resource = subresource ? `${ref.resource}/${subresource}` : ref.resource;
  const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
  const message = `${subject} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${ref.group}" ${scope}`;
  return new ApiError(failure(403, 'Forbidden', message, details(ref, name)));
}

export function methodNotAllowed(): ApiError {
  return new ApiError(failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}));
}

export function unsupportedMediaType(contentType: string): ApiError {
  return new ApiError(failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${contentType})`));
}

/** The watch cache's answer to a resourceVersion older than its history (what informers turn into a re-list). */
export function expired(requested: number, oldest: number): ApiError {
  return new ApiError(failure(410, 'Expired', `too old resource version: ${requested} (${oldest})`));
}

/**
 * A list `resourceVersion=N&resourceVersionMatch=NotOlderThan` the watch cache could not reach: kube-apiserver waits up
 * to 3 s for the cache to catch up, then answers this (storage/cacher, `NewTooLargeResourceVersionError`).
 */
export function tooLargeResourceVersion(requested: number, current: number): ApiError {
  return new ApiError(
    failure(504, 'Timeout', `Too large resource version: ${requested}, current: ${current}`, {
      causes: [{reason: 'ResourceVersionTooLarge', message: 'Too large resource version'}],
      retryAfterSeconds: 1,
    }),
  );
}

export function tooManyRequests(retryAfterSeconds: number): ApiError {
  return new ApiError(
    failure(429, 'TooManyRequests', 'Too many requests, please try again later.', {retryAfterSeconds}),
    {headers: {'Retry-After': String(retryAfterSeconds)}},
  );
}

export function internalError(cause: unknown): ApiError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new ApiError(failure(500, 'InternalError', `Internal error occurred: ${message}`), {cause});
}
