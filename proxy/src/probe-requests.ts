/**
 * Probe and health-check requests are served like any other, but they are not traffic: the settling phase waits
 * until no *traffic* has arrived for `quiet` (docs/design.md), and kubelet or a load balancer probing every few seconds
 * must not hold it open until the deadline.
 */
import type {IncomingMessage} from 'node:http';
import type {IncomingHttpHeaders} from 'node:http2';

/** User-Agent prefixes of kubelet, AWS ELB/ALB and Google Cloud load balancer health checks. */
export const PROBE_USER_AGENTS = ['kube-probe/', 'ELB-HealthChecker/', 'GoogleHC/'] as const;

export type ProbeMatcher = (req: IncomingMessage) => boolean;

/** @param ignorePaths request paths (without query) that never count as traffic (LAMEDUCK_QUIET_IGNORE_PATHS). */
export function createProbeMatcher(ignorePaths: readonly string[]): ProbeMatcher {
  const paths = new Set(ignorePaths);
  const checkPath = paths.size > 0;
  return (req) => {
    const ua = req.headers['user-agent'];
    if (ua !== undefined) {
      for (const prefix of PROBE_USER_AGENTS) if (ua.startsWith(prefix)) return true;
    }
    if (!checkPath) return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    return paths.has(q < 0 ? url : url.slice(0, q));
  };
}

/**
 * The gRPC health-checking protocol (https://github.com/grpc/grpc/blob/master/doc/health-checking.md): kubelet's
 * `grpc` probe and mesh health checkers call these; they are probes, not traffic.
 */
export const GRPC_HEALTH_PATHS = ['/grpc.health.v1.Health/Check', '/grpc.health.v1.Health/Watch'] as const;

export type H2ProbeMatcher = (headers: IncomingHttpHeaders) => boolean;

/** The same rule for an HTTP/2 request's header block, plus the gRPC health service. */
export function createH2ProbeMatcher(ignorePaths: readonly string[]): H2ProbeMatcher {
  const paths = new Set<string>([...ignorePaths, ...GRPC_HEALTH_PATHS]);
  return (headers) => {
    const ua = headers['user-agent'];
    if (ua !== undefined) {
      for (const prefix of PROBE_USER_AGENTS) if (ua.startsWith(prefix)) return true;
    }
    const path = headers[':path'] ?? '';
    const q = path.indexOf('?');
    return paths.has(q < 0 ? path : path.slice(0, q));
  };
}
