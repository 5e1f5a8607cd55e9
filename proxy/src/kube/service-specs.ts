/**
 * What the routing rule needs from Service specs (traffic policy, publishNotReadyAddresses, headless), fetched with
 * one GET per Service that has the pod in a slice. A 404 means kube-proxy programs nothing for it; a 403 means
 * lameduck judges with the defaults (Cluster policy, and headless only where the slices' label says so).
 */
import type {Logger} from '../log.js';
import type {KubeClient} from './client.js';
import {KubeApiError} from './kube-api-error.js';
import type {ServiceInfo} from './routing.js';
import type {WireService} from './wire.js';

export function serviceInfo(svc: WireService): ServiceInfo {
  const spec = svc.spec ?? {};
  return {
    state: 'present',
    publishNotReadyAddresses: spec.publishNotReadyAddresses === true,
    // Local internal or external traffic policy: kube-proxy judges the terminating fallback per node.
    local: spec.internalTrafficPolicy === 'Local' || spec.externalTrafficPolicy === 'Local',
    headless: spec.clusterIP === 'None',
  };
}

export interface ServiceSpecs {
  readonly known: ReadonlyMap<string, ServiceInfo>;
  /** GETs `names` (all of them when `refresh`, else only unknown ones). Throws KubeApiError except on 404 and 403. */
  fetch(names: readonly string[], refresh: boolean, signal: AbortSignal): Promise<void>;
}

export function createServiceSpecs(deps: {client: KubeClient; log: Logger; namespace: string; requestTimeoutMs: number}): ServiceSpecs {
  const known = new Map<string, ServiceInfo>();
  let forbidden = false;
  const path = (name: string): string => `/api/v1/namespaces/${encodeURIComponent(deps.namespace)}/services/${encodeURIComponent(name)}`;
  return {
    known,
    async fetch(names, refresh, signal) {
      if (forbidden) return;
      const wanted = names.filter((n) => refresh || !known.has(n));
      await Promise.all(
        wanted.map(async (name) => {
          try {
            const svc = await deps.client.call<WireService>({resource: 'services', verb: 'get', path: path(name), signal, timeoutMs: deps.requestTimeoutMs});
            known.set(name, serviceInfo(svc));
          } catch (error) {
            if (error instanceof KubeApiError && error.notFound) {
              // kube-proxy programs no rules for a Service that does not exist; its leftover slices route nothing.
              known.set(name, {state: 'gone'});
            } else if (error instanceof KubeApiError && error.reason === 'forbidden') {
              forbidden = true;
              deps.log.warn('cannot get services: judging every service with the default traffic policy (Cluster)', {error});
            } else throw error;
          }
        }),
      );
    },
  };
}
