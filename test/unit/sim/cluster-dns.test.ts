// The simulated cluster DNS and its caching clients, as CoreDNS's default Corefile (`ttl 30`, `cache 30`) and a
// TTL-respecting resolver behave: Ready endpoints only, one answer cached for 30 s everywhere, so a client keeps
// dialling an address for up to a TTL after it was withdrawn.
import {describe, it, expect} from '@jest/globals';
import {createStaticView} from '../../../sim/cluster/data-plane.js';
import {COREDNS_TTL_MS, createClusterDns, createDnsClient} from '../../../sim/cluster/cluster-dns.js';
import type {ViewEndpoint} from '../../../sim/cluster/routing.js';

const ep = (ip: string, c: Partial<ViewEndpoint> = {}): ViewEndpoint => ({ip, port: 8080, ready: true, serving: true, terminating: false, pod: `pod-${ip}`, ...c});

describe('cluster DNS for a headless Service', () => {
  it('answers with the ready endpoints only: no terminating fallback, even when nothing else is left', () => {
    const view = createStaticView([ep('10.0.0.1'), ep('10.0.0.2', {ready: false, serving: true, terminating: true}), ep('10.0.0.3', {ready: false, serving: false})]);
    let t = 0;
    const dns = createClusterDns({view, now: () => t});
    expect(dns.resolve().addresses.map((a) => a.ip)).toEqual(['10.0.0.1']);
    view.set([ep('10.0.0.2', {ready: false, serving: true, terminating: true})]);
    t += COREDNS_TTL_MS;
    expect(dns.resolve().addresses).toEqual([]);
    expect(dns.stats.empty).toBe(1);
  });

  it('serves a cached answer until its TTL ends, then looks again', () => {
    const view = createStaticView([ep('10.0.0.1')]);
    let t = 1000;
    const dns = createClusterDns({view, now: () => t});
    const first = dns.resolve();
    expect(first.expiresAt).toBe(1000 + COREDNS_TTL_MS);
    view.set([ep('10.0.0.2')]);
    t += COREDNS_TTL_MS - 1;
    expect(dns.resolve().addresses.map((a) => a.ip)).toEqual(['10.0.0.1']);
    t += 1;
    expect(dns.resolve().addresses.map((a) => a.ip)).toEqual(['10.0.0.2']);
    expect(dns.stats).toMatchObject({queries: 3, lookups: 2});
  });

  it("keeps a client dialling a withdrawn pod's address until the answer expires, and asks no sooner", () => {
    const view = createStaticView([ep('10.0.0.1')]);
    let t = 0;
    const dns = createClusterDns({view, now: () => t});
    const client = createDnsClient(dns, {now: () => t});
    expect(client.pick()).toEqual({host: '10.0.0.1', port: 8080});
    // The pod terminates: not ready any more, so CoreDNS would stop publishing it — but the answer is cached.
    view.set([ep('10.0.0.1', {ready: false, terminating: true}), ep('10.0.0.9')]);
    t = 10_000;
    expect(client.pick()).toEqual({host: '10.0.0.1', port: 8080});
    t = 29_999;
    expect(client.pick()).toEqual({host: '10.0.0.1', port: 8080});
    expect(dns.stats.queries).toBe(1);
    t = 30_000;
    expect(client.pick()).toEqual({host: '10.0.0.9', port: 8080});
  });

  it('gives a client no address while the name has no ready endpoint', () => {
    const dns = createClusterDns({view: createStaticView([ep('10.0.0.1', {ready: false})])});
    expect(createDnsClient(dns).pick()).toBeUndefined();
  });
});
