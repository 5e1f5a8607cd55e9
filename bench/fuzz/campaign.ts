/**
 * The fuzz campaign (docs/reliability.md "Fuzzing"): generated cases (generate.ts) against real lameduck processes,
 * each in front of its own raw upstream (raw-upstream.ts), every case sent whole and split, judged by check.ts.
 * Cases run one at a time per lameduck ("lane"), so whatever its upstream receives during a case belongs to that
 * case; lanes run side by side. A violating case is shrunk (delta debugging on its bytes) to the smallest input
 * that still shows the same kind of violation.
 */
import {get} from 'node:http';
import {startLameduck, type Lameduck} from '../../sim/processes.js';
import {checkCase, type Violation, type ViolationKind} from './check.js';
import {exchange, type Delivery, type ExchangeLimits} from './exchange.js';
import {FAMILIES, generateCase, type Family, type FuzzCase} from './generate.js';
import {caseSeed, createPrng} from './prng.js';
import {startRawUpstream, type RawUpstream} from './raw-upstream.js';

export interface CampaignOptions {
  readonly seed: number;
  /** Stop after this many cases (default: unbounded, then `seconds` must be set). */
  readonly cases?: number;
  /** Stop starting cases after this many seconds. */
  readonly seconds?: number;
  /** Run only these case indices (a replay). */
  readonly only?: readonly number[];
  /** lameduck processes side by side (default 2). */
  readonly lanes?: number;
  readonly deliveries?: readonly Delivery[];
  /** Every n-th case is also sent in the `hold` delivery (no FIN: lameduck's own timeouts must end it); 0 = never. */
  readonly holdEvery?: number;
  readonly families?: readonly Family[];
  /** See GenerateOptions (default true). */
  readonly pipelineMutations?: boolean;
  /** Cases not run (known failures awaiting a fix; the caller says which and why); counted in `skipped`. */
  readonly skip?: (c: FuzzCase) => boolean;
  /** Shrink violating inputs (default true). */
  readonly minimize?: boolean;
  readonly limits?: Partial<ExchangeLimits>;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

export interface Finding {
  readonly fuzzCase: FuzzCase;
  readonly delivery: Delivery;
  readonly violations: readonly Violation[];
  /** The bytes the client sent in the violating run, and what came back. */
  readonly sent: Buffer;
  readonly received: Buffer;
  /** The smallest input (one segment) found that still shows the first violation's kind, when shrinking worked. */
  readonly minimal?: {readonly bytes: Buffer; readonly violations: readonly Violation[]};
}

export interface CampaignResult {
  readonly seed: number;
  readonly cases: number;
  readonly runs: number;
  /** Cases the `skip` predicate left out. */
  readonly skipped: readonly FuzzCase[];
  readonly seconds: number;
  readonly byFamily: ReadonlyMap<Family, {cases: number; runs: number; violating: number}>;
  readonly findings: readonly Finding[];
}

/** lameduck's timeouts in the campaign: short, so a request it waits on ends quickly (and the waits below follow). */
export const FUZZ_ENV = {LAMEDUCK_HEADERS_TIMEOUT: '1s', LAMEDUCK_REQUEST_TIMEOUT: '2s', LAMEDUCK_KEEPALIVE_TIMEOUT: '2s', LAMEDUCK_UPSTREAM_TIMEOUT: '5s'} as const;
// hold: the keep-alive timeout (2 s) or the request timeout (2 s), plus the timeout check interval and slack.
const DEFAULT_LIMITS: ExchangeLimits = {responseWaitMs: 4_000, graceMs: 25, closeWaitMs: 4_000, holdCloseMs: 6_000};

interface Lane {
  ld: Lameduck;
  upstream: RawUpstream;
  /** The last run on this lane (its upstream requests may still arrive during the next one). */
  previous?: {sent: Buffer; label: string};
}

async function startLane(): Promise<Lane> {
  const upstream = await startRawUpstream();
  const ld = await startLameduck({LAMEDUCK_UPSTREAM: `http://127.0.0.1:${upstream.port}`, LAMEDUCK_LOG_LEVEL: 'info', ...FUZZ_ENV});
  return {ld, upstream};
}

async function stopLane(lane: Lane): Promise<void> {
  lane.ld.kill('SIGKILL');
  await lane.ld.exited;
  await lane.upstream.close();
}

const alive = (ld: Lameduck): boolean => ld.child.exitCode === null && ld.child.signalCode === null;

function healthz(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: timeoutMs}, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function metricsText(port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = get({host: '127.0.0.1', port, path: '/metrics', agent: false, timeout: timeoutMs}, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? body : undefined));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** Polls lameduck_requests_in_flight until 0; undefined when it got there, else the ms waited. */
async function waitNothingInFlight(adminPort: number, deadlineMs: number): Promise<number | undefined> {
  const start = performance.now();
  for (;;) {
    const text = await metricsText(adminPort, deadlineMs);
    const m = text === undefined ? undefined : /^lameduck_requests_in_flight (\S+)$/m.exec(text);
    if (m && Number(m[1]) === 0) return undefined;
    const waited = performance.now() - start;
    if (waited >= deadlineMs) return Math.round(waited);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One run of some bytes on a lane; the lane's upstream must be quiet before (settled by the previous run). */
async function runOnce(lane: Lane, segments: readonly Buffer[], delivery: Delivery, rngSeed: number, limits: ExchangeLimits, label: string): Promise<{violations: Violation[]; sent: Buffer; received: Buffer}> {
  const early = lane.upstream.take();
  const ex = await exchange(lane.ld.trafficPort, segments, delivery, createPrng(rngSeed), limits);
  // A barrier: once lameduck counts nothing in flight, nothing more of this connection's will be forwarded; what is
  // on the wire already arrives within the upstream's quiet period.
  const inFlightAfterMs = await waitNothingInFlight(lane.ld.adminPort, 3_000);
  const leftPending = await lane.upstream.settle(60, 2_000);
  const upstream = lane.upstream.take();
  const isAlive = alive(lane.ld);
  const healthy = isAlive && (await healthz(lane.ld.adminPort, 3_000));
  const violations = checkCase({
    sent: ex.sent,
    received: ex.received,
    ended: ex.ended,
    upstream: {...upstream, errors: [...early.errors, ...upstream.errors], leftPending, beforeStart: early.requests},
    inFlightAfterMs,
    alive: isAlive && alive(lane.ld),
    healthy,
    previous: lane.previous,
  });
  lane.previous = {sent: ex.sent, label};
  return {violations, sent: ex.sent, received: ex.received};
}

/** Delta debugging (ddmin, complement removal) of one byte string, keeping a violation of `kind`. */
async function shrink(lane: () => Promise<Lane>, bytes: Buffer, delivery: Delivery, kind: ViolationKind, limits: ExchangeLimits, maxRuns: number): Promise<{bytes: Buffer; violations: Violation[]} | undefined> {
  let runs = 0;
  const test = async (b: Buffer): Promise<Violation[] | undefined> => {
    runs++;
    const r = await runOnce(await lane(), [b], delivery, 1, limits, 'a shrinking run');
    return r.violations.some((v) => v.kind === kind) ? r.violations : undefined;
  };
  let best = await test(bytes);
  if (!best) return undefined;
  let cur = bytes;
  let n = 2;
  while (cur.length >= 2 && runs < maxRuns) {
    const size = Math.ceil(cur.length / n);
    let reduced = false;
    for (let start = 0; start < cur.length && runs < maxRuns; start += size) {
      const candidate = Buffer.concat([cur.subarray(0, start), cur.subarray(start + size)]);
      const v = candidate.length > 0 ? await test(candidate) : undefined;
      if (v) {
        cur = candidate;
        best = v;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= cur.length) break;
      n = Math.min(cur.length, n * 2);
    }
  }
  return {bytes: cur, violations: best};
}

export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  if (o.cases === undefined && o.seconds === undefined && o.only === undefined) throw new Error('runCampaign needs cases, seconds or only');
  const log = o.log ?? (() => undefined);
  const deliveries = o.deliveries ?? ['whole', 'split'];
  const limits = {...DEFAULT_LIMITS, ...o.limits};
  const started = performance.now();
  const until = o.seconds === undefined ? Infinity : started + o.seconds * 1000;
  const byFamily = new Map<Family, {cases: number; runs: number; violating: number}>(FAMILIES.map((f) => [f, {cases: 0, runs: 0, violating: 0}]));
  const findings: Finding[] = [];
  const skipped: FuzzCase[] = [];
  let next = 0;
  let cases = 0;
  let runs = 0;
  const indices = o.only;
  const take = (): number | undefined => {
    if (performance.now() >= until) return undefined;
    if (indices !== undefined) return next < indices.length ? indices[next++] : undefined;
    if (o.cases !== undefined && next >= o.cases) return undefined;
    return next++;
  };

  const worker = async (): Promise<void> => {
    let lane = await startLane();
    const liveLane = async (): Promise<Lane> => {
      if (!alive(lane.ld)) {
        await stopLane(lane);
        lane = await startLane();
      }
      return lane;
    };
    try {
      for (let index = take(); index !== undefined; index = take()) {
        const c = generateCase(o.seed, index, {families: o.families, pipelineMutations: o.pipelineMutations});
        if (o.skip?.(c)) {
          skipped.push(c);
          continue;
        }
        const stats = byFamily.get(c.family)!;
        stats.cases++;
        cases++;
        const hold = o.holdEvery !== undefined && o.holdEvery > 0 && index % o.holdEvery === 0;
        for (const delivery of hold ? [...deliveries, 'hold' as const] : deliveries) {
          const r = await runOnce(await liveLane(), c.segments, delivery, caseSeed(o.seed, index), limits, `case ${c.id}, ${delivery}`);
          stats.runs++;
          runs++;
          if (r.violations.length === 0) continue;
          stats.violating++;
          log(`case ${c.id} (${c.family}, ${delivery}): ${r.violations.map((v) => v.kind).join(', ')} — ${c.label}`);
          let minimal: Finding['minimal'];
          if (o.minimize !== false) minimal = await shrink(liveLane, r.sent, delivery, r.violations[0]!.kind, limits, 150);
          findings.push({fuzzCase: c, delivery, violations: r.violations, sent: r.sent, received: r.received, minimal});
        }
        if (cases % 50 === 0) log(`${cases} cases, ${runs} runs, ${findings.length} violating runs, ${Math.round((performance.now() - started) / 1000)} s`);
      }
    } finally {
      await stopLane(lane);
    }
  };
  await Promise.all(Array.from({length: Math.max(1, o.lanes ?? 2)}, worker));
  return {seed: o.seed, cases, runs, skipped, seconds: (performance.now() - started) / 1000, byFamily, findings};
}

/** Bytes for a report: the escaped form (CR, LF, non-printables visible), and hex; long inputs are cut. */
export function showBytes(b: Buffer, max = 600): {escaped: string; hex: string} {
  const cut = b.length > max ? b.subarray(0, max) : b;
  const more = b.length > max ? ` … (${b.length} bytes in all)` : '';
  let escaped = '';
  for (const c of cut) {
    if (c === 0x0d) escaped += '\\r';
    else if (c === 0x0a) escaped += '\\n';
    else if (c === 0x09) escaped += '\\t';
    else if (c === 0x5c) escaped += '\\\\';
    else if (c < 0x20 || c >= 0x7f) escaped += `\\x${c.toString(16).padStart(2, '0')}`;
    else escaped += String.fromCharCode(c);
  }
  return {escaped: escaped + more, hex: cut.toString('hex') + more};
}
