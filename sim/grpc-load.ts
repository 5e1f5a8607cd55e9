/**
 * An open-loop gRPC load generator (tests, the showdown): a few long-lived @grpc/grpc-js channels to one address, as
 * the client pods of a gRPC service hold them, carrying
 * - unary `Hello` calls arriving at a constant, jittered rate whatever the server does, spread over the channels
 *   in turn, each with a deadline;
 * - a few long server streams (`Stream`), each started again when it ends.
 * The service is the demo-app's gRPC mode (demo-app/src/grpc-service.ts).
 *
 * The channels behave as grpc-js's defaults make them, as a user's would: no retry policy (grpc-js then retries a
 * call only transparently, when it never reached the server's application, e.g. a stream the server refused or one
 * above a GOAWAY's last stream id), no keepalive pings, and a call made while the channel is in TRANSIENT_FAILURE
 * fails at once with UNAVAILABLE (no waitForReady). Each channel has a subchannel pool of its own
 * (`grpc.use_local_subchannel_pool`), hence a TCP connection of its own: one channel per client process.
 *
 * Every connection passes through a GOAWAY tap (goaway-tap.ts), so a call that fails can be told apart: did its
 * connection receive a GOAWAY before the break (the server told the client to reconnect) or not?
 * Records have the shape of load.ts's, so summaries, the showdown's table and its timeline are shared.
 */
import * as grpc from '@grpc/grpc-js';
import {performance} from 'node:perf_hooks';
import {DEMO_SERVICE, POD_METADATA_KEY, type HelloReply, type HelloRequest, type StreamReply, type StreamRequest} from '../demo-app/src/grpc-service.js';
import {startGoawayTap, type GoawayTap, type TappedConnection} from './goaway-tap.js';
import {hostPort, summarize, type LoadReport, type Outcome, type RequestRecord} from './load.js';

export interface GrpcLoadOptions {
  host: string;
  port: number;
  /** Unary calls per second, over all channels. */
  rps: number;
  /** Long-lived channels (one connection each). Default 4. */
  channels?: number;
  /** Server streams open at any time, spread over the channels. Default 2. */
  streams?: number;
  /** Messages per stream. Default 40. */
  streamMessages?: number;
  /** Between two messages of a stream, ms. Default 100. */
  streamIntervalMs?: number;
  /** Deadline of a unary call; a stream's is its length plus this. Default 10 000. */
  timeoutMs?: number;
  /** Stops issuing by itself after this long. Default 120 000. */
  durationMs?: number;
  /** Unary arrivals beyond this many in flight are recorded as `error` and not sent. Default 4096. */
  maxInFlight?: number;
}

export interface GrpcLoad {
  /** Live: grows as calls complete. */
  records: RequestRecord[];
  /** Stops issuing, cancels the open streams (recorded ok, `cancelledAtStop`), waits for unary calls in flight. Idempotent. */
  stop(): Promise<LoadReport>;
}

interface DemoClient extends grpc.Client {
  hello(req: HelloRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: HelloReply) => void): grpc.ClientUnaryCall;
  stream(req: StreamRequest, md: grpc.Metadata, opts: grpc.CallOptions): grpc.ClientReadableStream<StreamReply>;
}

const DemoClientCtor = grpc.makeGenericClientConstructor(DEMO_SERVICE, 'Demo') as unknown as new (
  address: string,
  creds: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => DemoClient;

const now = (): number => performance.timeOrigin + performance.now();

/** A gRPC status as a load outcome. */
export function grpcOutcome(code: number): Outcome {
  if (code === grpc.status.OK) return 'ok';
  if (code === grpc.status.UNAVAILABLE) return 'unavailable';
  if (code === grpc.status.DEADLINE_EXCEEDED) return 'timeout';
  return 'error';
}

/** Had the connection that carried a call received a GOAWAY by `end`? */
function toldToReconnect(tap: GoawayTap, atStart: TappedConnection | undefined, start: number, end: number): boolean {
  // A call made while no connection was usable went on the next one the channel opened.
  const conn = atStart ?? tap.connections.find((c) => c.openedAt >= start);
  return conn?.goawayAt !== undefined && conn.goawayAt <= end;
}

export async function startGrpcLoad(opts: GrpcLoadOptions): Promise<GrpcLoad> {
  if (!(opts.rps > 0) || !Number.isFinite(opts.rps)) throw new RangeError(`rps must be a positive number, got ${opts.rps}`);
  const channelCount = opts.channels ?? 4;
  if (!Number.isInteger(channelCount) || channelCount < 1) throw new RangeError(`channels must be a whole number >= 1, got ${opts.channels}`);
  const streamCount = opts.streams ?? 2;
  const streamMessages = opts.streamMessages ?? 40;
  const streamIntervalMs = opts.streamIntervalMs ?? 100;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const durationMs = opts.durationMs ?? 120_000;
  const maxInFlight = opts.maxInFlight ?? 4096;
  const target = hostPort(opts.host, opts.port);

  const taps: GoawayTap[] = [];
  const clients: DemoClient[] = [];
  try {
    for (let i = 0; i < channelCount; i++) {
      const tap = await startGoawayTap({host: opts.host, port: opts.port}, now);
      taps.push(tap);
      clients.push(new DemoClientCtor(tap.address, grpc.credentials.createInsecure(), {'grpc.use_local_subchannel_pool': 1}));
    }
  } catch (err) {
    await Promise.all(taps.map((t) => t.close()));
    throw err;
  }

  const records: RequestRecord[] = [];
  const unaryInFlight = new Set<grpc.ClientUnaryCall>();
  const openStreams = new Map<grpc.ClientReadableStream<StreamReply>, {cancelledAtStop: boolean}>();
  const restartTimers = new Set<NodeJS.Timeout>();
  let nextId = 0;
  let stopped = false;
  let settled: (() => void) | undefined;
  const idle = (): void => {
    if (stopped && unaryInFlight.size === 0 && openStreams.size === 0) settled?.();
  };

  function finishRecord(r: RequestRecord, code: number, details: string, tap: GoawayTap, atStart: TappedConnection | undefined): void {
    r.grpcCode = code;
    r.outcome = grpcOutcome(code);
    if (r.outcome !== 'ok') {
      r.error = `${grpc.status[code] ?? code}: ${details}`;
      r.toldToReconnect = toldToReconnect(tap, atStart, r.start, r.end);
    }
    records.push(r);
  }

  function issueUnary(): void {
    const id = nextId++;
    const ch = id % channelCount;
    const tap = taps[ch]!;
    const start = now();
    const path = DEMO_SERVICE.hello.path;
    if (unaryInFlight.size >= maxInFlight) {
      records.push({id, kind: 'grpc-unary', path, start, end: start, outcome: 'error', error: `load generator: more than ${maxInFlight} in flight`});
      return;
    }
    const atStart = tap.current();
    let pod: string | undefined;
    const call = clients[ch]!.hello({name: `call-${id}`}, new grpc.Metadata(), {deadline: Date.now() + timeoutMs}, (err, res) => {
      unaryInFlight.delete(call);
      const r: RequestRecord = {id, kind: 'grpc-unary', path, start, end: now(), outcome: 'ok', target};
      const p = res?.pod ?? pod;
      if (p) r.pod = p;
      finishRecord(r, err ? err.code : grpc.status.OK, err?.details ?? '', tap, atStart);
      setImmediate(idle);
    });
    call.on('metadata', (md) => {
      const v = md.get(POD_METADATA_KEY)[0];
      if (typeof v === 'string') pod = v;
    });
    unaryInFlight.add(call);
  }

  function startStream(slot: number): void {
    if (stopped) return;
    const id = nextId++;
    const ch = slot % channelCount;
    const tap = taps[ch]!;
    const start = now();
    const atStart = tap.current();
    let pod: string | undefined;
    let messages = 0;
    const call = clients[ch]!.stream({count: streamMessages, intervalMs: streamIntervalMs}, new grpc.Metadata(), {
      deadline: Date.now() + streamMessages * streamIntervalMs + timeoutMs,
    });
    const state = {cancelledAtStop: false};
    openStreams.set(call, state);
    call.on('metadata', (md) => {
      const v = md.get(POD_METADATA_KEY)[0];
      if (typeof v === 'string') pod = v;
    });
    call.on('data', (m: StreamReply) => {
      messages++;
      pod ??= m.pod;
    });
    // Errors arrive as the status too; without a listener an 'error' event would throw.
    call.on('error', () => undefined);
    call.on('status', (st: grpc.StatusObject) => {
      openStreams.delete(call);
      const r: RequestRecord = {id, kind: 'grpc-stream', path: DEMO_SERVICE.stream.path, start, end: now(), outcome: 'ok', target, messages};
      if (pod) r.pod = pod;
      if (state.cancelledAtStop) {
        r.grpcCode = st.code;
        r.cancelledAtStop = true;
        records.push(r);
      } else if (st.code === grpc.status.OK && messages !== streamMessages) {
        // A server that ends a stream early with OK has still broken it.
        finishRecord(r, grpc.status.UNKNOWN, `stream ended after ${messages} of ${streamMessages} messages`, tap, atStart);
      } else {
        finishRecord(r, st.code, st.details, tap, atStart);
      }
      if (!stopped) {
        // A client that saw its stream fail waits before asking again (grpc-js's own reconnect backoff starts at 1 s).
        const t = setTimeout(() => {
          restartTimers.delete(t);
          startStream(slot);
        }, r.outcome === 'ok' ? 50 : 1000);
        restartTimers.add(t);
      }
      setImmediate(idle);
    });
  }

  // Unary arrivals on a schedule (as load.ts): a late timer neither adds nor drops any.
  const startedAt = now();
  const meanIntervalMs = 1000 / opts.rps;
  let nextArrival = startedAt;
  let arrivalTimer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    arrivalTimer = undefined;
    const t = now();
    while (!stopped && nextArrival <= t) {
      if (nextArrival - startedAt >= durationMs) return stopIssuing();
      issueUnary();
      nextArrival += meanIntervalMs * (0.5 + Math.random());
    }
    if (!stopped) arrivalTimer = setTimeout(tick, Math.max(0, nextArrival - now()));
  };
  arrivalTimer = setTimeout(tick, 0);
  // Streams start staggered, so they do not all end (and restart) together.
  const streamLengthMs = streamMessages * streamIntervalMs;
  for (let s = 0; s < streamCount; s++) {
    const t = setTimeout(() => {
      restartTimers.delete(t);
      startStream(s);
    }, (s * streamLengthMs) / Math.max(1, streamCount));
    restartTimers.add(t);
  }
  const durationTimer = setTimeout(() => stopIssuing(), durationMs);

  function stopIssuing(): void {
    if (stopped) return;
    stopped = true;
    clearTimeout(arrivalTimer);
    clearTimeout(durationTimer);
    for (const t of restartTimers) clearTimeout(t);
    restartTimers.clear();
    for (const [call, state] of openStreams) {
      state.cancelledAtStop = true;
      call.cancel();
    }
  }

  let stopping: Promise<LoadReport> | undefined;
  return {
    records,
    stop() {
      stopping ??= (async () => {
        const done = new Promise<void>((resolve) => (settled = resolve));
        stopIssuing();
        idle();
        // Every unary call has its deadline; this bound only catches what would slip past it.
        let guard: NodeJS.Timeout | undefined;
        await Promise.race([done, new Promise<void>((resolve) => (guard = setTimeout(resolve, timeoutMs + 2000)))]);
        clearTimeout(guard);
        for (const c of clients) c.close();
        await Promise.all(taps.map((t) => t.close()));
        return summarize(records);
      })();
      return stopping;
    },
  };
}
