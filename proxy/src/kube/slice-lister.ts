/**
 * EndpointSlice lists that never go back in time, as client-go's reflector does
 * (https://github.com/kubernetes/client-go/blob/master/tools/cache/reflector.go, `relistResourceVersion`):
 * - the first list is a consistent read (`resourceVersion` unset): served from etcd, or from a watch cache proven
 *   current (KEP-2340), never an older state;
 * - every re-list asks for `resourceVersion=<newest seen>&resourceVersionMatch=NotOlderThan`: the watch cache may
 *   answer it, but only with a state at least that new;
 * - 410 Gone / Expired for that version, or 504 "Too large resource version" (a watch cache that has not caught up,
 *   https://github.com/kubernetes/kubernetes/issues/91073), falls back to a consistent read;
 * - a list older than a state already seen is never used (with several API servers, a `resourceVersion=0` read from
 *   a lagging watch cache could show "another pod still ready" and end a terminating-fallback hold early).
 * resourceVersions are opaque in general; the API server's are etcd revisions, so they are compared as integers
 * only when both sides are decimal integers. Otherwise every re-list is a consistent read.
 */
import type {Logger} from '../log.js';
import type {KubeClient} from './client.js';
import {KubeApiError} from './kube-api-error.js';
import type {WireEndpointSlice, WireList} from './wire.js';

export interface SliceList {
  readonly slices: ReadonlyMap<string, WireEndpointSlice>;
  /** The list's resourceVersion: the watch starts from it. */
  readonly resourceVersion: string | undefined;
}

export interface SliceLister {
  /** Lists every slice of the namespace, never answering a state older than one already seen. Throws KubeApiError. */
  list(signal: AbortSignal): Promise<SliceList>;
  /** Records a resourceVersion seen on the watch (events and bookmarks): later lists must be at least this new. */
  seen(resourceVersion: string | undefined): void;
}

export interface SliceListerDeps {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly path: string;
  readonly requestTimeoutMs: number;
}

const INTEGER = /^\d{1,19}$/;

function revision(rv: string | undefined): bigint | undefined {
  return rv !== undefined && INTEGER.test(rv) ? BigInt(rv) : undefined;
}

/** 410 (the version was compacted) or 504 "Too large resource version" (the cache lags behind it). */
function versionUnavailable(err: unknown): boolean {
  if (!(err instanceof KubeApiError)) return false;
  if (err.status === 410 || err.statusReason === 'Expired' || err.statusReason === 'Gone') return true;
  return err.status === 504 && /too large resource version/i.test(err.message);
}

export function createSliceLister(deps: SliceListerDeps): SliceLister {
  const {client, log} = deps;
  /** The newest resourceVersion seen, as a revision; undefined before the first list or if they are not integers. */
  let newest: bigint | undefined;
  let newestText: string | undefined;
  let comparable = true;

  const note = (rv: string | undefined): void => {
    if (!rv) return;
    const r = revision(rv);
    if (r === undefined) {
      comparable = false;
      return;
    }
    if (newest === undefined || r > newest) {
      newest = r;
      newestText = rv;
    }
  };

  const call = (signal: AbortSignal, query: Record<string, string>): Promise<WireList<WireEndpointSlice>> =>
    client.call<WireList<WireEndpointSlice>>({
      resource: 'endpointslices',
      verb: 'list',
      path: deps.path,
      query,
      signal,
      timeoutMs: deps.requestTimeoutMs,
    });

  return {
    seen: note,
    async list(signal) {
      const atLeast = comparable ? newestText : undefined;
      let list: WireList<WireEndpointSlice>;
      if (atLeast === undefined) {
        list = await call(signal, {});
      } else {
        try {
          list = await call(signal, {resourceVersion: atLeast, resourceVersionMatch: 'NotOlderThan'});
        } catch (error) {
          if (!versionUnavailable(error)) throw error;
          log.info('endpointslice list: resourceVersion not available, reading consistently', {resourceVersion: atLeast, error});
          list = await call(signal, {});
        }
        const got = revision(list.metadata?.resourceVersion);
        if (got !== undefined && newest !== undefined && got < newest) {
          // A server that ignored NotOlderThan (or a proxy in between): this state is older than one already judged.
          log.warn('endpointslice list older than a state already seen: reading consistently', {
            listed: list.metadata?.resourceVersion,
            seen: newestText,
          });
          list = await call(signal, {});
          const again = revision(list.metadata?.resourceVersion);
          if (again !== undefined && again < newest) {
            throw new KubeApiError(`list endpointslices: consistent read at ${again} is older than ${newestText}`);
          }
        }
      }
      note(list.metadata?.resourceVersion);
      const slices = new Map<string, WireEndpointSlice>();
      for (const item of list.items ?? []) if (item?.metadata?.name) slices.set(item.metadata.name, item);
      return {slices, resourceVersion: list.metadata?.resourceVersion || undefined};
    },
  };
}
