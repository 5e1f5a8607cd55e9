/**
 * One fuzz case on one client connection: send the segments (whole, or split into pieces), wait for the answers the
 * strict parser says are due, then FIN and wait for the server to close. Every wait has a deadline; a connection the
 * server keeps open past them is a hang.
 */
import {connect, type Socket} from 'node:net';
import {parseRequestStream, parseResponseStream} from './strict-http1.js';
import type {Prng} from './prng.js';

/** whole: each segment in one write; split: in pieces; hold: whole, and no FIN: lameduck's timeouts must close it. */
export type Delivery = 'whole' | 'split' | 'hold';

export interface ExchangeLimits {
  /** How long to wait for the responses due after a segment (lameduck's request timeout plus slack). */
  readonly responseWaitMs: number;
  /** After the responses due: how long to watch for more bytes before the FIN. */
  readonly graceMs: number;
  /** After the FIN: how long the server has to close. */
  readonly closeWaitMs: number;
  /** `hold`: how long the server has to close an idle or unfinished connection on its own. */
  readonly holdCloseMs: number;
}

export interface ExchangeResult {
  readonly sent: Buffer;
  readonly received: Buffer;
  readonly ended: 'closed' | 'hang';
}

/** Split points: every byte boundary for short segments, `randomCuts` random ones for long ones. */
export function pieces(segment: Buffer, delivery: Delivery, rng: Prng, everyByteUpTo = 1024, randomCuts = 64): Buffer[] {
  if (delivery !== 'split' || segment.length <= 1) return [segment];
  if (segment.length <= everyByteUpTo) return Array.from({length: segment.length}, (_, i) => segment.subarray(i, i + 1));
  const cuts = new Set<number>();
  while (cuts.size < Math.min(randomCuts, segment.length - 1)) cuts.add(rng.int(1, segment.length - 1));
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...sorted, segment.length]) {
    out.push(segment.subarray(at, c));
    at = c;
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function exchange(port: number, segments: readonly Buffer[], delivery: Delivery, rng: Prng, limits: ExchangeLimits): Promise<ExchangeResult> {
  const socket: Socket = connect({host: '127.0.0.1', port, noDelay: true});
  const chunks: Buffer[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  socket.on('data', (c: Buffer) => {
    chunks.push(c);
    poke();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    closed = true;
    poke();
  });
  /** Waits until `done()` or the server closes, at most `ms`; true if `done()` (or closed). */
  const waitFor = async (done: () => boolean, ms: number): Promise<boolean> => {
    const until = performance.now() + ms;
    while (!closed && !done()) {
      const left = until - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    return true;
  };
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });

  const sentSoFar: Buffer[] = [];
  const finalResponses = (): number => {
    const sent = Buffer.concat(sentSoFar);
    const methods = parseRequestStream(sent).requests.map((r) => r.method);
    return parseResponseStream(Buffer.concat(chunks), methods, false).responses.length;
  };
  for (const segment of segments) {
    if (closed) break;
    const parts = pieces(segment, delivery, rng);
    for (let i = 0; i < parts.length && !closed; i++) {
      await new Promise<void>((r) => socket.write(parts[i]!, () => r()));
      sentSoFar.push(parts[i]!);
      // Let lameduck read this piece on its own before the next one arrives.
      if (parts.length > 1) await (i % 8 === 7 ? sleep(0) : new Promise((r) => setImmediate(r)));
    }
    const due = parseRequestStream(Buffer.concat(sentSoFar)).requests.length;
    await waitFor(() => finalResponses() >= due, limits.responseWaitMs);
  }
  if (!closed) {
    // More bytes than due are a finding too: watch a little before the FIN.
    const before = chunks.reduce((n, c) => n + c.length, 0);
    await waitFor(() => chunks.reduce((n, c) => n + c.length, 0) > before, limits.graceMs);
  }
  if (!closed && delivery !== 'hold') socket.end();
  const ended = (await waitFor(() => false, delivery === 'hold' ? limits.holdCloseMs : limits.closeWaitMs)) || closed ? 'closed' : 'hang';
  socket.destroy();
  return {sent: Buffer.concat(sentSoFar), received: Buffer.concat(chunks), ended};
}
