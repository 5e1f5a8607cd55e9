/**
 * Pod IPs on the loopback network. Linux routes all of 127.0.0.0/8 to `lo`, so every 127.a.b.c address can be bound
 * without configuration: each simulated pod gets its own address and its containers bind their real, fixed ports on
 * it — the "network namespace" of the simulation (two pods can both listen on :8080, as in a cluster).
 *
 * Several simulated clusters run at once (jest workers, other engineers' tests), so each pool takes a random /24 out
 * of 127.16.0.0–127.254.255.0 instead of a fixed one; addresses are never reused within a pool (a pod's old sockets
 * may linger in TIME_WAIT, and a late packet must never reach a different pod).
 */

export interface LoopbackIpPool {
  /** The next unused address of the pool. */
  allocate(): string;
  /** The pool's /24, e.g. `127.42.7.0/24` (for logs and docs). */
  readonly cidr: string;
}

export class IpPoolExhaustedError extends Error {
  readonly code = 'IP_POOL_EXHAUSTED';
  constructor(cidr: string) {
    super(`no free address left in ${cidr}`);
    this.name = 'IpPoolExhaustedError';
  }
}

export interface LoopbackIpPoolOptions {
  /** Fixed second and third octets (tests); default random. */
  block?: [number, number];
  random?: () => number;
}

export function createLoopbackIpPool(opts: LoopbackIpPoolOptions = {}): LoopbackIpPool {
  const random = opts.random ?? Math.random;
  // 127.0.x.x is left alone: 127.0.0.1 and friends are what every other test uses.
  const [b, c] = opts.block ?? [16 + Math.floor(random() * 239), Math.floor(random() * 256)];
  if (!(b >= 1 && b <= 255 && c >= 0 && c <= 255)) throw new RangeError(`bad loopback block 127.${b}.${c}.0/24`);
  const cidr = `127.${b}.${c}.0/24`;
  // .0 and .255 are avoided: network and broadcast addresses look odd in logs even where they work.
  let next = 1;
  return {
    cidr,
    allocate() {
      if (next > 254) throw new IpPoolExhaustedError(cidr);
      return `127.${b}.${c}.${next++}`;
    },
  };
}
