// A headless Service (clusterIP: None) and clients that resolve its name through the cluster DNS and cache the answer
// for its TTL (30 s, CoreDNS's default), dialling pod IPs directly: no kube-proxy and no terminating fallback between
// them and the pods. Without lameduck, a rolling update's old pods die while clients still hold their addresses, and
// new connections to them are refused for up to a TTL. With lameduck every old pod serves until its clients have moved.
// The bare run shortens the TTL to 10 s (the run lasts a TTL past the rollout): its refusals need only clients holding
// a gone pod's address for a while. The lameduck run keeps CoreDNS's 30 s, which its old pods have to outlast.
import {describe, it, expect} from '@jest/globals';
import {runScenario} from '../../sim/cluster/scenario-runner.js';
import {describeRun} from '../../sim/cluster/result-report.js';

const lags = {controller: {minMs: 200, maxMs: 2000}, dns: {minMs: 100, maxMs: 1000}};

describe('rolling update behind a headless Service, DNS-caching clients', () => {
  it('without lameduck: connections to the old pods are refused while clients still hold their addresses', async () => {
    const r = await runScenario({scenario: 'headless-bare', rps: 60, lags, dnsTtlMs: 10_000});
    expect(r.rollouts[0]?.completedAt).toBeDefined();
    expect(r.records.every((x) => x.via === 'dns')).toBe(true);
    expect(r.failedByKind.refused ?? 0).toBeGreaterThan(0);
    // The clients asked the DNS again only when their answer expired: the failures are the cache, not the DNS.
    expect(r.dns.lookups).toBeGreaterThanOrEqual(2);
    const lastFailure = Math.max(...r.records.filter((x) => x.outcome !== 'ok').map((x) => x.end));
    const firstGone = Math.min(...r.pods.filter((p) => p.terminatedAt !== undefined).map((p) => p.terminatedAt!));
    expect(lastFailure).toBeGreaterThan(firstGone);
  }, 600_000);

  it('with lameduck: no request fails, and every old pod is drained from the API', async () => {
    const r = await runScenario({scenario: 'headless-lameduck', rps: 60, lags});
    expect(r.requests.failed === 0 ? 'no failed request' : describeRun(r)).toBe('no failed request');
    const old = r.pods.filter((p) => p.terminatedAt !== undefined);
    expect(old).toHaveLength(3);
    expect(r.drainSummaries).toHaveLength(3);
    for (const d of r.drainSummaries) expect(d.summary).toMatchObject({deregistration: 'deregistered'});
    for (const p of old) expect(p.sigkilled).toBe(false);
  }, 600_000);
});
