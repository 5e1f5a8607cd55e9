// gRPC through a rolling update: real @grpc/grpc-js clients hold long-lived channels to the Service's virtual IP
// (kube-proxy balances per TCP connection), with unary calls at a steady rate and long server streams.
// - The bare legacy app dies on SIGTERM with its connections open: in-flight calls and open streams break with
//   UNAVAILABLE, and re-dials through a lagging kube-proxy reach the dead pod. No GOAWAY told anyone.
// - Behind lameduck (LAMEDUCK_UPSTREAM=h2c://) the clients get a GOAWAY at `deregistering`, re-dial through the
//   Service, and the streams already open finish on the old pod: no RPC fails.
import {describe, it, expect} from '@jest/globals';
import {runScenario} from '../../sim/cluster/scenario-runner.js';

// A short kube-proxy lag keeps the test short; the gRPC lameduck scenarios set settle to its slowest sync (here the
// chart's 2 s already does): with long-lived channels only settle covers it — quiet sees no traffic from a lagging
// node whose clients do not re-dial (docs/http2.md, "Settle for long-lived clients").
const LAGS = {controller: {minMs: 500, maxMs: 2000}, loadBalancer: {minMs: 300, maxMs: 1500}};

describe('rolling update of a gRPC app', () => {
  it('bare: RPCs fail and streams break without having been told to reconnect', async () => {
    const r = await runScenario({scenario: 'grpc-bare', rps: 60, lags: LAGS});
    expect(r.rollouts[0]?.completedAt).toBeDefined();
    expect(r.grpc).toBeDefined();
    expect(r.requests.failed).toBeGreaterThan(0);
    expect(r.failedByKind.unavailable).toBeGreaterThan(0);
    expect(r.grpc!.failedNotTold).toBe(r.requests.failed);
    // Every client went through the L4 path: nothing reached the ingress.
    expect(r.byPath.ingress.total).toBe(0);
    expect(r.byPath.service.total).toBe(r.requests.total);
  }, 600_000);

  it('lameduck: no failed RPC, no broken stream, and the clients were told to move (GOAWAY)', async () => {
    const r = await runScenario({scenario: 'grpc-lameduck', rps: 60, lags: LAGS});
    expect(r.rollouts[0]?.completedAt).toBeDefined();
    expect(r.grpc!.unary).toBeGreaterThan(100);
    expect(r.grpc!.streams).toBeGreaterThan(0);
    expect(r.requests.failed).toBe(0);
    expect(r.grpc!.brokenStreams).toBe(0);
    expect(r.grpc!.brokenNotTold).toBe(0);
    // Each old pod's lameduck sent GOAWAYs and drained HTTP/2 streams; it cut none.
    const h2 = r.drainSummaries.map((d) => d.summary.h2 as {goaways: number; cut: number});
    expect(h2).toHaveLength(3);
    for (const s of h2) {
      expect(s.goaways).toBeGreaterThan(0);
      expect(s.cut).toBe(0);
    }
  }, 600_000);
});
