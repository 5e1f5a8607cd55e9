// kube-proxy's endpoint choice (KEP-1669) and how a data plane reads EndpointSlices.
import {describe, it, expect} from '@jest/globals';
import type {EndpointSlice} from '../../../sim/kube/types.js';
import {pickEndpoint, routableEndpoints, type ViewEndpoint} from '../../../sim/cluster/routing.js';
import {endpointsFromSlices} from '../../../sim/cluster/endpoint-view.js';

const ep = (ip: string, ready: boolean, serving: boolean, terminating: boolean): ViewEndpoint => ({ip, port: 80, ready, serving, terminating});

describe('routable endpoints', () => {
  it('uses only ready endpoints while there are any', () => {
    const r = routableEndpoints([ep('a', true, true, false), ep('b', false, true, true), ep('c', false, false, false)]);
    expect(r).toEqual({endpoints: [ep('a', true, true, false)], fallback: false});
  });

  it('falls back to serving and terminating endpoints when none is ready, never to not-serving ones', () => {
    const r = routableEndpoints([ep('b', false, true, true), ep('c', false, false, true), ep('d', false, false, false)]);
    expect(r).toEqual({endpoints: [ep('b', false, true, true)], fallback: true});
  });

  it('has nothing to route to when no endpoint is ready or serving', () => {
    expect(routableEndpoints([ep('c', false, false, true)]).endpoints).toEqual([]);
    expect(pickEndpoint([ep('c', false, false, true)])).toBeUndefined();
  });

  it('has no fallback under the ready-only policy (ingress-nginx, CoreDNS): a serving+terminating pod gets nothing', () => {
    const terminating = [ep('b', false, true, true)];
    expect(routableEndpoints(terminating, 'ready-only')).toEqual({endpoints: [], fallback: false});
    expect(pickEndpoint(terminating, () => 0, 'ready-only')).toBeUndefined();
    expect(pickEndpoint([...terminating, ep('a', true, true, false)], () => 0, 'ready-only')?.ip).toBe('a');
  });

  it('picks uniformly among routable endpoints', () => {
    const all = [ep('a', true, true, false), ep('b', true, true, false), ep('x', false, true, true)];
    expect(pickEndpoint(all, () => 0)?.ip).toBe('a');
    expect(pickEndpoint(all, () => 0.99)?.ip).toBe('b');
  });
});

describe('endpoints from slices', () => {
  const slice = (name: string, endpoints: EndpointSlice['endpoints'], ports: EndpointSlice['ports'] = [{name: 'http', port: 8080}]): EndpointSlice => ({
    metadata: {name, labels: {'kubernetes.io/service-name': 'web'}},
    addressType: 'IPv4',
    ports,
    endpoints,
  });

  it('merges slices, reads the named port and defaults absent conditions to ready and serving', () => {
    const out = endpointsFromSlices([
      slice('a', [{addresses: ['10.0.0.1'], conditions: {ready: false, serving: true, terminating: true}, targetRef: {name: 'p1'}}]),
      slice('b', [{addresses: ['10.0.0.2']}], [{name: 'metrics', port: 9090}, {name: 'http', port: 8081}]),
    ], 'http');
    expect(out).toEqual([
      {ip: '10.0.0.1', port: 8080, ready: false, serving: true, terminating: true, pod: 'p1'},
      {ip: '10.0.0.2', port: 8081, ready: true, serving: true, terminating: false, pod: undefined},
    ]);
  });

  it('keeps the ready copy of an endpoint that sits in two slices during a move, and skips placeholder slices', () => {
    const out = endpointsFromSlices([
      slice('a', [{addresses: ['10.0.0.1'], conditions: {ready: false, serving: false, terminating: false}}]),
      slice('b', [{addresses: ['10.0.0.1'], conditions: {ready: true, serving: true, terminating: false}}]),
      slice('empty', null, null),
    ]);
    expect(out).toHaveLength(1);
    expect(out[0]!.ready).toBe(true);
  });
});
