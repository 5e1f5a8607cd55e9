/**
 * From routing verdicts to "is the hold over?", for one drain: logs every change of the verdict, and keeps the two
 * pieces of memory the pure rule (routing.ts) cannot have (docs/kubernetes.md "Routing by Service kind"):
 * - DNS settle: clients of a headless Service resolve its name through cluster DNS and keep connecting to a cached
 *   address after CoreDNS stopped publishing it (default Corefile: `ttl 30`, `cache 30`). When a headless Service had
 *   the pod, settle lasts at least `dnsSettleMs` from the last moment it was seen publishing the pod — or from the
 *   start of the drain if it never was (an answer given before the trigger may still be cached).
 * - The sole endpoint: a terminating-fallback hold for a Service that has no other endpoint at all (a single-replica
 *   StatefulSet or `Recreate` Deployment, whose replacement cannot exist before this pod object is gone) would last
 *   until the deadline and delay the replacement by as much. Once that has held for `soleGraceMs` (a replacement
 *   still being scheduled gets time to show up, even not ready), the hold ends; settling's quiet rule then keeps
 *   serving as long as requests keep arriving.
 */
import type {Logger} from '../log.js';
import type {RoutingVerdict} from './routing.js';

/** Default DNS settle: CoreDNS's default cache (30 s, the TTL it answers with) plus 5 s for it and clients to catch up. */
export const DEFAULT_DNS_SETTLE_MS = 35_000;
/** How long a sole-endpoint fallback holds before the drain moves on to settling. */
export const SOLE_ENDPOINT_GRACE_MS = 5_000;

export interface RoutingHoldDeps {
  readonly log: Logger;
  readonly now: () => number;
  /** now() at the start of the wait. */
  readonly startedAt: number;
  readonly dnsSettleMs: number;
  readonly soleGraceMs?: number;
}

export interface HoldJudgement {
  readonly done: boolean;
  /** Judge again after this long even without an event (the sole-endpoint grace runs out). */
  readonly recheckInMs?: number;
}

export interface RoutingHold {
  judge(verdict: RoutingVerdict): HoldJudgement;
  /** DNS settle still owed at this moment: 0 unless a headless Service had the pod. */
  dnsSettleLeftMs(): number;
}

function verdictKey(v: RoutingVerdict): string {
  return JSON.stringify([
    v.routedBy.map((r) => `${r.service}:${r.why}:${r.addressType}:${r.scope}:${r.via}:${r.sole ?? false}`),
    v.services,
    v.ignored,
    v.gone,
  ]);
}

export function createRoutingHold(deps: RoutingHoldDeps): RoutingHold {
  const {log, now} = deps;
  const soleGraceMs = deps.soleGraceMs ?? SOLE_ENDPOINT_GRACE_MS;
  let lastDescribed = '';
  let dnsPublishedAt: number | undefined;
  let soleSince: number | undefined;
  const warned = new Set<string>();
  const once = (key: string, fn: () => void): void => {
    if (warned.has(key)) return;
    warned.add(key);
    fn();
  };

  return {
    judge(verdict) {
      const t = now();
      const described = verdictKey(verdict);
      if (described !== lastDescribed) {
        lastDescribed = described;
        log.info('routing', {
          routed: verdict.routed,
          routedBy: verdict.routedBy.map((r) => ({service: r.service, why: r.why, addressType: r.addressType, scope: r.scope, via: r.via, ...(r.sole ? {sole: true} : {})})),
          services: verdict.services,
          ignored: verdict.ignored,
          gone: verdict.gone,
          ...(verdict.headless.length ? {headless: verdict.headless} : {}),
          ...(verdict.otherProxy.length ? {otherProxy: verdict.otherProxy} : {}),
          ms: Math.round(t - deps.startedAt),
        });
      }
      const pnra = verdict.routedBy.filter((r) => r.why === 'publishNotReadyAddresses').map((r) => r.service);
      if (pnra.length > 0) {
        once('pnra', () =>
          log.warn('a publishNotReadyAddresses service holds the pod until the deadline; list it in LAMEDUCK_IGNORE_SERVICES if it should not', {
            services: pnra,
          }),
        );
      }
      if (verdict.otherProxy.length > 0) {
        once('otherProxy', () =>
          log.warn('services handled by another proxy (service.kubernetes.io/service-proxy-name) are judged with kube-proxy rules; list them in LAMEDUCK_IGNORE_SERVICES if they should not hold the pod', {
            services: verdict.otherProxy,
          }),
        );
      }
      if (verdict.headless.length > 0) {
        if (verdict.routedBy.some((r) => r.via === 'dns')) dnsPublishedAt = t;
        dnsPublishedAt ??= deps.startedAt;
        once('dns', () =>
          log.info('a headless service has the pod: clients reach it through DNS, settle lasts at least LAMEDUCK_DNS_SETTLE after DNS stops publishing it', {
            services: verdict.headless,
            dnsSettleMs: deps.dnsSettleMs,
          }),
        );
      }

      if (!verdict.routed) return {done: true};
      if (!verdict.routedBy.every((r) => r.sole)) {
        soleSince = undefined;
        return {done: false};
      }
      soleSince ??= t;
      const left = soleSince + soleGraceMs - t;
      if (left > 0) {
        once('sole', () =>
          log.info('the pod is the only endpoint of its services: the terminating fallback holds briefly, then settling serves while requests arrive', {
            services: verdict.routedBy.map((r) => r.service),
            graceMs: soleGraceMs,
          }),
        );
        return {done: false, recheckInMs: left};
      }
      log.info('sole endpoint: no other endpoint appeared, ending the terminating-fallback hold', {
        services: verdict.routedBy.map((r) => r.service),
        heldMs: Math.round(t - soleSince),
      });
      return {done: true};
    },
    dnsSettleLeftMs() {
      if (dnsPublishedAt === undefined) return 0;
      return Math.max(0, Math.round(dnsPublishedAt + deps.dnsSettleMs - now()));
    },
  };
}
