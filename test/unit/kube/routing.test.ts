import {describe, expect, it} from '@jest/globals';
import fc from 'fast-check';
import {canonicalIp, routingVerdict, type RoutingPod, type ServiceInfo} from '../../../proxy/src/kube/routing.js';
import type {WireEndpoint, WireEndpointSlice} from '../../../proxy/src/kube/wire.js';

const POD: RoutingPod = {uid: 'uid-self', ips: ['10.0.0.1', 'fd00::1']};

type Cond = {ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null};
const READY: Cond = {ready: true, serving: true, terminating: false};
const TERMINATING_SERVING: Cond = {ready: false, serving: true, terminating: true};
const TERMINATING_GONE: Cond = {ready: false, serving: false, terminating: true};
const NOT_READY: Cond = {ready: false, serving: false, terminating: false};

function ep(uid: string | undefined, ip: string, conditions: Cond, nodeName?: string): WireEndpoint {
  return {
    addresses: [ip],
    conditions,
    ...(uid ? {targetRef: {kind: 'Pod', name: uid, namespace: 'ns', uid}} : {}),
    ...(nodeName ? {nodeName} : {}),
  };
}
const self = (c: Cond, nodeName?: string): WireEndpoint => ep('uid-self', '10.0.0.1', c, nodeName);
const other = (n: number, c: Cond, nodeName?: string): WireEndpoint => ep(`uid-${n}`, `10.0.0.${n + 1}`, c, nodeName);

function slice(service: string | undefined, endpoints: WireEndpoint[] | null, addressType = 'IPv4', name?: string, labels: Record<string, string> = {}): WireEndpointSlice {
  return {
    metadata: {name: name ?? `${service}-x`, namespace: 'ns', labels: service ? {'kubernetes.io/service-name': service, ...labels} : {}},
    addressType,
    endpoints,
  };
}
const present = (o: {pnra?: boolean; local?: boolean; headless?: boolean} = {}): ServiceInfo => ({
  state: 'present',
  publishNotReadyAddresses: o.pnra ?? false,
  local: o.local ?? false,
  headless: o.headless ?? false,
});
const HEADLESS = {'service.kubernetes.io/headless': ''};
const OTHER_PROXY = {'service.kubernetes.io/service-proxy-name': 'mesh'};

function verdict(slices: WireEndpointSlice[], services: Record<string, ServiceInfo> = {}, ignore: string[] = [], pod = POD) {
  return routingVerdict({slices, services: new Map(Object.entries(services)), pod, ignoreServices: ignore});
}

describe('routing rule: table', () => {
  it('a ready endpoint routes the pod', () => {
    const v = verdict([slice('web', [self(READY), other(1, READY)])]);
    expect(v.routed).toBe(true);
    expect(v.routedBy).toEqual([{service: 'web', why: 'ready', addressType: 'IPv4', scope: 'cluster', via: 'kube-proxy'}]);
  });

  it('terminating and not serving: not routed', () => {
    const v = verdict([slice('web', [self(TERMINATING_GONE)])]);
    expect(v.routed).toBe(false);
    expect(v.services).toEqual(['web']);
  });

  it('serving and terminating with another ready endpoint: not routed', () => {
    expect(verdict([slice('web', [self(TERMINATING_SERVING), other(1, READY)])]).routed).toBe(false);
  });

  it('serving and terminating while every other endpoint is not ready: routed through the terminating fallback (KEP-1669)', () => {
    const v = verdict([slice('web', [self(TERMINATING_SERVING), other(1, NOT_READY), other(2, TERMINATING_SERVING)])]);
    expect(v.routedBy).toEqual([{service: 'web', why: 'terminatingFallback', addressType: 'IPv4', scope: 'cluster', via: 'kube-proxy'}]);
  });

  it('the terminating fallback of a Service with no other endpoint at all is marked sole', () => {
    expect(verdict([slice('db', [self(TERMINATING_SERVING)])]).routedBy).toEqual([
      {service: 'db', why: 'terminatingFallback', addressType: 'IPv4', scope: 'cluster', via: 'kube-proxy', sole: true},
    ]);
    // A replacement that exists, even not ready or in the other family's slice, is not "no other endpoint".
    expect(verdict([slice('db', [self(TERMINATING_SERVING), other(1, NOT_READY)])]).routedBy[0]!.sole).toBeUndefined();
    expect(verdict([slice('db', [self(TERMINATING_SERVING)]), slice('db', [ep('uid-9', 'fd00::9', NOT_READY)], 'IPv6', 'db-v6')]).routedBy[0]!.sole).toBeUndefined();
  });

  it('a headless Service is reached through DNS: ready only, no terminating fallback, no traffic policy', () => {
    const labelled = (c: Cond) => [slice('peers', [self(c, 'n1')], 'IPv4', 'peers-x', HEADLESS)];
    expect(verdict(labelled(READY)).routedBy).toEqual([{service: 'peers', why: 'dns', addressType: 'IPv4', scope: 'cluster', via: 'dns'}]);
    // The only endpoint, serving and terminating: kube-proxy would fall back to it, CoreDNS does not publish it.
    const v = verdict(labelled(TERMINATING_SERVING));
    expect(v).toMatchObject({routed: false, services: ['peers'], headless: ['peers']});
    // Known as headless from the Service spec alone (slices written before the label, or by another controller).
    expect(verdict([slice('peers', [self(TERMINATING_SERVING)])], {peers: present({headless: true})}).routed).toBe(false);
    expect(verdict([slice('peers', [self(NOT_READY)])], {peers: present({headless: true, local: true})}).routed).toBe(false);
    // publishNotReadyAddresses: CoreDNS publishes what the controller marks ready.
    const pnra = verdict([slice('peers', [self({ready: true, serving: false, terminating: true})], 'IPv4', 'p', HEADLESS)], {peers: present({pnra: true, headless: true})});
    expect(pnra.routedBy).toEqual([{service: 'peers', why: 'publishNotReadyAddresses', addressType: 'IPv4', scope: 'cluster', via: 'dns'}]);
    // Ignored, it is not reported as headless either (it will not stretch settle).
    expect(verdict(labelled(READY), {}, ['peers'])).toMatchObject({routed: false, ignored: ['peers'], headless: []});
  });

  it('a Service handled by another proxy is judged with kube-proxy rules and reported apart', () => {
    const v = verdict([slice('mesh', [self(TERMINATING_SERVING), other(1, NOT_READY)], 'IPv4', 'm', OTHER_PROXY)]);
    expect(v.routedBy).toEqual([{service: 'mesh', why: 'terminatingFallback', addressType: 'IPv4', scope: 'cluster', via: 'other-proxy'}]);
    expect(v.otherProxy).toEqual(['mesh']);
  });

  it('Local traffic policy: judged per node', () => {
    const elsewhere = [slice('web', [self(TERMINATING_SERVING, 'n1'), other(1, READY, 'n2')])];
    const sameNode = [slice('web', [self(TERMINATING_SERVING, 'n1'), other(1, READY, 'n1')])];
    expect(verdict(elsewhere, {web: present()}).routed).toBe(false);
    expect(verdict(elsewhere, {web: present({local: true})}).routedBy).toEqual([
      {service: 'web', why: 'terminatingFallback', addressType: 'IPv4', scope: 'node', via: 'kube-proxy'},
    ]);
    expect(verdict(sameNode, {web: present({local: true})}).routed).toBe(false);
    // The pod's own node, when known, wins over the one written on its endpoint.
    expect(verdict(sameNode, {web: present({local: true})}, [], {...POD, nodeName: 'n2'}).routed).toBe(true);
    // Unknown node under Local: no peer can be shown to share it, so stay routed.
    expect(verdict([slice('web', [self(TERMINATING_SERVING), other(1, READY, 'n1')])], {web: present({local: true})}).routed).toBe(true);
  });

  it('publishNotReadyAddresses holds the pod unless the Service is ignored', () => {
    const slices = [slice('peers', [self({ready: true, serving: false, terminating: true}), other(1, READY)])];
    expect(verdict(slices, {peers: present({pnra: true})}).routedBy).toEqual([
      {service: 'peers', why: 'publishNotReadyAddresses', addressType: 'IPv4', scope: 'cluster', via: 'kube-proxy'},
    ]);
    const ignored = verdict(slices, {peers: present({pnra: true})}, ['peers']);
    expect(ignored.routed).toBe(false);
    expect(ignored.ignored).toEqual(['peers']);
  });

  it('matches by address when targetRef is missing (IPv6 compared canonically), by uid when both know it', () => {
    expect(verdict([slice('web', [ep(undefined, '10.0.0.1', READY)])]).routed).toBe(true);
    expect(verdict([slice('web6', [ep(undefined, 'FD00:0:0::1', READY)], 'IPv6')]).routed).toBe(true);
    // Same IP, other uid: an IP reused by another pod is not us.
    expect(verdict([slice('web', [ep('uid-new', '10.0.0.1', READY)])]).routed).toBe(false);
    // Without our uid, the address decides even if targetRef is there.
    expect(verdict([slice('web', [ep('uid-x', '10.0.0.1', READY)])], {}, [], {ips: ['10.0.0.1']}).routed).toBe(true);
    expect(canonicalIp('FD00:0000::0001')).toBe(canonicalIp('fd00::1'));
  });

  it('an endpoint in several slices of one Service: any routing copy keeps the pod routed', () => {
    const v = verdict([slice('web', [self(TERMINATING_GONE), other(1, READY)], 'IPv4', 'web-a'), slice('web', [self(READY)], 'IPv4', 'web-b')]);
    expect(v.routed).toBe(true);
    expect(v.services).toEqual(['web']);
  });

  it('the pod in no slice is done; nil conditions count as ready', () => {
    expect(verdict([slice('web', [other(1, READY)]), slice('empty', null)])).toMatchObject({routed: false, services: []});
    expect(verdict([slice('web', [self({})])]).routed).toBe(true);
    // serving nil defers to ready: a not-ready terminating endpoint is not serving.
    expect(verdict([slice('web', [self({ready: false, terminating: true}), other(1, NOT_READY)])]).routed).toBe(false);
  });

  it('a Service that no longer exists, FQDN slices and unlabelled slices do not route', () => {
    const v = verdict([slice('old', [self(READY)]), slice('dns', [self(READY)], 'FQDN'), slice(undefined, [self(READY)])], {old: {state: 'gone'}});
    expect(v).toMatchObject({routed: false, gone: ['old'], services: ['old']});
  });

  it('dual stack: each family is judged on its own', () => {
    const v6self = ep('uid-self', 'fd00::1', TERMINATING_SERVING);
    const v = verdict([slice('web', [self(TERMINATING_SERVING), other(1, READY)], 'IPv4'), slice('web', [v6self], 'IPv6', 'web-v6')]);
    expect(v.routedBy).toEqual([{service: 'web', why: 'terminatingFallback', addressType: 'IPv6', scope: 'cluster', via: 'kube-proxy'}]);
  });

  it('two Services: routed while either routes', () => {
    const v = verdict([slice('a', [self(TERMINATING_SERVING), other(1, READY)]), slice('b', [self(READY)])]);
    expect(v.routedBy.map((r) => r.service)).toEqual(['b']);
    expect(v.services).toEqual(['a', 'b']);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Property: "done" iff no Service still routes the pod, against an oracle written straight from docs/design.md's words.

interface Model {
  slices: WireEndpointSlice[];
  services: Record<string, ServiceInfo | undefined>;
  pod: RoutingPod;
  ignore: string[];
}

const NAMES = ['a', 'b', 'c'];
const boolish = fc.constantFrom<boolean | null | undefined>(true, false, null, undefined);
const node = fc.constantFrom<string | undefined>('n1', 'n2', undefined);

// Mostly the states the EndpointSlice controller writes, sometimes any combination (incl. nil) a writer could send.
const conditionsArb: fc.Arbitrary<Cond> = fc.oneof(
  {arbitrary: fc.constantFrom(READY, TERMINATING_SERVING, TERMINATING_GONE, NOT_READY, {ready: true, serving: false, terminating: true}), weight: 3},
  {
    arbitrary: fc.record({ready: boolish, serving: boolish, terminating: boolish}).map((r) => {
      const c: Cond = {};
      for (const k of ['ready', 'serving', 'terminating'] as const) if (r[k] !== undefined) c[k] = r[k];
      return c;
    }),
    weight: 2,
  },
);

const endpointArb: fc.Arbitrary<WireEndpoint> = fc
  .record({
    who: fc.constantFrom('self', 'self-ip-only', 'ip-reused', 'other1', 'other2', 'other3'),
    conditions: conditionsArb,
    nodeName: node,
  })
  .map(({who, conditions, nodeName}) => {
    const base = {conditions, ...(nodeName ? {nodeName} : {})};
    switch (who) {
      case 'self':
        return {...base, addresses: ['10.0.0.1'], targetRef: {kind: 'Pod', uid: 'uid-self'}};
      case 'self-ip-only':
        return {...base, addresses: ['10.0.0.1']};
      case 'ip-reused':
        return {...base, addresses: ['10.0.0.1'], targetRef: {kind: 'Pod', uid: 'uid-reuser'}};
      default:
        return {...base, addresses: [`10.0.1.${who.slice(-1)}`], targetRef: {kind: 'Pod', uid: `uid-${who}`}};
    }
  });

const sliceArb: fc.Arbitrary<WireEndpointSlice> = fc
  .record({
    service: fc.constantFrom<string | undefined>(...NAMES, undefined),
    addressType: fc.constantFrom<string | undefined>('IPv4', 'IPv4', 'IPv6', 'FQDN', undefined),
    endpoints: fc.option(fc.array(endpointArb, {maxLength: 5}), {nil: null, freq: 8}),
    kind: fc.constantFrom<Record<string, string>>({}, {}, {}, HEADLESS, OTHER_PROXY),
  })
  .map(({service, addressType, endpoints, kind}): WireEndpointSlice => ({
    metadata: {name: 'x', labels: service ? {'kubernetes.io/service-name': service, ...kind} : {}},
    ...(addressType ? {addressType} : {}),
    endpoints,
  }));

const infoArb = fc.oneof(
  fc.constant(undefined),
  fc.constant<ServiceInfo>({state: 'gone'}),
  fc
    .record({publishNotReadyAddresses: fc.boolean(), local: fc.boolean(), headless: fc.boolean()})
    .map((s): ServiceInfo => ({state: 'present', ...s})),
);

const modelArb: fc.Arbitrary<Model> = fc.record({
  slices: fc.array(sliceArb, {maxLength: 6}),
  services: fc.record({a: infoArb, b: infoArb, c: infoArb}),
  pod: fc.record({uid: fc.constantFrom<string | undefined>('uid-self', undefined), nodeName: node}).map(({uid, nodeName}) => ({
    ...(uid ? {uid} : {}),
    ...(nodeName ? {nodeName} : {}),
    ips: ['10.0.0.1'],
  })),
  ignore: fc.subarray(NAMES),
});

/** The oracle: loops over the rule as docs/design.md states it, sharing no code with routing.ts. */
function oracleDone(m: Model): boolean {
  const isMine = (e: WireEndpoint): boolean => {
    if (e.targetRef?.uid && m.pod.uid) return e.targetRef.uid === m.pod.uid;
    return (e.addresses ?? []).includes('10.0.0.1');
  };
  const readyOf = (e: WireEndpoint): boolean => (e.conditions?.ready === null || e.conditions?.ready === undefined ? true : e.conditions.ready);
  const servingOf = (e: WireEndpoint): boolean =>
    e.conditions?.serving === null || e.conditions?.serving === undefined ? readyOf(e) : e.conditions.serving;
  const terminatingOf = (e: WireEndpoint): boolean => e.conditions?.terminating === true;
  for (const name of NAMES) {
    if (m.ignore.includes(name)) continue;
    const info = m.services[name];
    if (info?.state === 'gone') continue;
    const local = info?.state === 'present' && info.local;
    const named = m.slices.filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === name);
    // Headless (label on any of its slices, or clusterIP None): CoreDNS publishes the ready endpoints, nothing else.
    if ((info?.state === 'present' && info.headless) || named.some((s) => 'service.kubernetes.io/headless' in (s.metadata.labels ?? {}))) {
      for (const s of named) {
        if ((s.addressType ?? 'IPv4') === 'FQDN') continue;
        if ((s.endpoints ?? []).some((e) => isMine(e) && readyOf(e))) return false;
      }
      continue;
    }
    for (const family of ['IPv4', 'IPv6']) {
      const all: WireEndpoint[] = [];
      for (const s of m.slices) {
        if (s.metadata.labels?.['kubernetes.io/service-name'] !== name) continue;
        if ((s.addressType ?? 'IPv4') !== family) continue;
        all.push(...(s.endpoints ?? []));
      }
      for (const mine of all.filter(isMine)) {
        if (readyOf(mine)) return false;
        if (servingOf(mine) && terminatingOf(mine)) {
          const myNode = m.pod.nodeName ?? mine.nodeName;
          let anotherReady = false;
          for (const o of all) {
            if (isMine(o) || !readyOf(o)) continue;
            if (local && (myNode === undefined || o.nodeName !== myNode)) continue;
            anotherReady = true;
          }
          if (!anotherReady) return false;
        }
      }
    }
  }
  return true;
}

function run(m: Model) {
  const services = new Map(Object.entries(m.services).filter((e): e is [string, ServiceInfo] => e[1] !== undefined));
  return routingVerdict({slices: m.slices, services, pod: m.pod, ignoreServices: m.ignore});
}

describe('routing rule: properties', () => {
  it('done iff no Service still routes the pod, by the oracle', () => {
    let routed = 0;
    let done = 0;
    fc.assert(
      fc.property(modelArb, (m) => {
        const v = run(m);
        if (v.routed) routed++;
        else done++;
        expect(v.routed).toBe(!oracleDone(m));
        // Every reported route names a Service that is neither ignored nor gone.
        for (const r of v.routedBy) expect(m.ignore.includes(r.service) || m.services[r.service]?.state === 'gone').toBe(false);
      }),
      {numRuns: 5000},
    );
    // The generator must exercise both outcomes, or the property proves nothing.
    expect(routed).toBeGreaterThan(300);
    expect(done).toBeGreaterThan(300);
  });

  it('each route says how the Service is reached, and a fallback is sole exactly when the Service has no other endpoint', () => {
    fc.assert(
      fc.property(modelArb, (m) => {
        const v = run(m);
        for (const r of v.routedBy) {
          // Labels come from the Service, so any of its slices tells; endpoints of FQDN slices are not proxied.
          const all = m.slices.filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === r.service);
          const named = all.filter((s) => (s.addressType ?? 'IPv4') !== 'FQDN');
          const labelled = (label: string): boolean => all.some((s) => label in (s.metadata.labels ?? {}));
          const info = m.services[r.service];
          const headless = labelled('service.kubernetes.io/headless') || (info?.state === 'present' && info.headless === true);
          expect(r.via).toBe(headless ? 'dns' : labelled('service.kubernetes.io/service-proxy-name') ? 'other-proxy' : 'kube-proxy');
          if (r.why !== 'terminatingFallback') continue;
          const isMine = (e: WireEndpoint): boolean =>
            e.targetRef?.uid && m.pod.uid ? e.targetRef.uid === m.pod.uid : (e.addresses ?? []).includes('10.0.0.1');
          const anotherPod = named.some((s) => (s.endpoints ?? []).some((e) => !isMine(e)));
          expect(r.sole === true).toBe(!anotherPod);
        }
      }),
      {numRuns: 3000},
    );
  });

  it('the order of slices and endpoints, and how endpoints are split over slices, do not matter', () => {
    fc.assert(
      fc.property(modelArb, fc.integer({min: 0, max: 1000}), (m, seed) => {
        const shuffled = [...m.slices].reverse().map((s) => ({...s, endpoints: s.endpoints ? [...s.endpoints].reverse() : s.endpoints}));
        // Split every slice in two at a seed-chosen point.
        const split = m.slices.flatMap((s) => {
          const eps = s.endpoints ?? [];
          const at = eps.length ? seed % (eps.length + 1) : 0;
          return [{...s, endpoints: eps.slice(0, at)}, {...s, endpoints: eps.slice(at)}];
        });
        const base = run(m).routed;
        expect(run({...m, slices: shuffled}).routed).toBe(base);
        expect(run({...m, slices: split}).routed).toBe(base);
      }),
      {numRuns: 1000},
    );
  });

  it('ignoring every Service is always done; a ready own endpoint in a live, non-ignored Service always routes', () => {
    fc.assert(
      fc.property(modelArb, fc.constantFrom(...NAMES), (m, name) => {
        expect(run({...m, ignore: NAMES}).routed).toBe(false);
        const withReady: Model = {
          ...m,
          ignore: m.ignore.filter((n) => n !== name),
          services: {...m.services, [name]: m.services[name]?.state === 'gone' ? undefined : m.services[name]},
          slices: [...m.slices, slice(name, [self(READY)])],
        };
        expect(run(withReady).routed).toBe(true);
      }),
      {numRuns: 500},
    );
  });
});
