/**
 * An HTTP/2 client that writes raw frames (RFC 9113 §4), for what node:http2's client will not send: resets right
 * after HEADERS, floods of control frames, header lists past the limit, garbage after the preface, a window that
 * never opens. Header blocks use HPACK literals without indexing (RFC 7541 §6.2.2), so no encoder state is needed.
 * Every wait has a deadline.
 */
import {connect, type Socket} from 'node:net';
import {HOST} from './forwarder-harness.js';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME = Object.freeze({DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9});
export const FLAG = Object.freeze({END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4});
export const ERROR_CODE = Object.freeze({NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, FRAME_SIZE_ERROR: 6, CANCEL: 8, COMPRESSION_ERROR: 9, ENHANCE_YOUR_CALM: 11});

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, firstByteFlags: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByteFlags | value]);
  const out = [firstByteFlags | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** A header block of literal fields without indexing, new names (RFC 7541 §6.2.2): no dynamic table involved. */
export function headerBlock(fields: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x00]), hpackInt(n.length, 7, 0), n, hpackInt(v.length, 7, 0), v);
  }
  return Buffer.concat(parts);
}

export function getHeaders(streamId: number, path = '/', extra: readonly (readonly [string, string])[] = [], endStream = true): Buffer {
  return requestHeaders(streamId, 'GET', path, extra, endStream);
}

export function requestHeaders(streamId: number, method: string, path: string, extra: readonly (readonly [string, string])[] = [], endStream = true): Buffer {
  const block = headerBlock([[':method', method], [':scheme', 'http'], [':authority', 'lameduck.test'], [':path', path], ...extra]);
  // A block larger than the default SETTINGS_MAX_FRAME_SIZE goes on in CONTINUATION frames (RFC 9113 §6.10).
  const max = 16_384;
  const frames: Buffer[] = [];
  for (let at = 0; at < block.length || at === 0; at += max) {
    const last = at + max >= block.length;
    const type = at === 0 ? FRAME.HEADERS : FRAME.CONTINUATION;
    const flags = (last ? FLAG.END_HEADERS : 0) | (at === 0 && endStream ? FLAG.END_STREAM : 0);
    frames.push(frame(type, flags, streamId, block.subarray(at, at + max)));
  }
  return Buffer.concat(frames);
}

export function rstStream(streamId: number, code: number = ERROR_CODE.CANCEL): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, p);
}

/** SETTINGS with the given (id, value) pairs (RFC 9113 §6.5.2). */
export function settings(pairs: readonly (readonly [number, number])[] = []): Buffer {
  const p = Buffer.alloc(6 * pairs.length);
  pairs.forEach(([id, value], i) => {
    p.writeUInt16BE(id, 6 * i);
    p.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(FRAME.SETTINGS, 0, 0, p);
}

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export function parseFrames(data: Buffer): Frame[] {
  const out: Frame[] = [];
  let at = 0;
  while (at + 9 <= data.length) {
    const length = data.readUIntBE(at, 3);
    if (at + 9 + length > data.length) break;
    out.push({type: data[at + 3]!, flags: data[at + 4]!, streamId: data.readUInt32BE(at + 5) & 0x7fffffff, payload: data.subarray(at + 9, at + 9 + length)});
    at += 9 + length;
  }
  return out;
}

/** RFC 9113 §6.9.2: both windows start at 65 535 octets until SETTINGS says otherwise. */
const DEFAULT_WINDOW = 65_535;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;

/**
 * The octets the server has let the client send so far (RFC 9113 §6.9): on the connection, and on one stream (its
 * SETTINGS_INITIAL_WINDOW_SIZE, else 65 535, plus its WINDOW_UPDATEs). What may be sent now is the smaller of the two,
 * less what was sent.
 */
export function grantedWindows(frames: readonly Frame[], streamId: number): {connection: number; stream: number} {
  let connection = DEFAULT_WINDOW;
  let initial = DEFAULT_WINDOW;
  let updates = 0;
  for (const f of frames) {
    if (f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0) {
      for (let at = 0; at + 6 <= f.payload.length; at += 6) {
        if (f.payload.readUInt16BE(at) === SETTINGS_INITIAL_WINDOW_SIZE) initial = f.payload.readUInt32BE(at + 2);
      }
    } else if (f.type === FRAME.WINDOW_UPDATE) {
      const inc = f.payload.readUInt32BE(0) & 0x7fffffff;
      if (f.streamId === 0) connection += inc;
      else if (f.streamId === streamId) updates += inc;
    }
  }
  return {connection, stream: initial + updates};
}

export interface RawH2 {
  readonly socket: Socket;
  write(data: Buffer): void;
  /** Frames received so far (the server's bytes parsed as frames). */
  frames(): Frame[];
  /** The GOAWAY's error code, once one arrived. */
  goawayCode(): number | undefined;
  /** Resolves true when the server closed the connection, false at the deadline. */
  closed(timeoutMs?: number): Promise<boolean>;
  /** Resolves when `check` holds over the frames received, false at the deadline. */
  waitFrames(check: (frames: Frame[]) => boolean, timeoutMs?: number): Promise<boolean>;
  destroy(): void;
}

/** Connects and sends the preface and an empty SETTINGS (plus `first`, in the same write). */
export function rawH2(port: number, first: Buffer = Buffer.alloc(0), opts: {preface?: Buffer} = {}): Promise<RawH2> {
  return new Promise((resolve, reject) => {
    const socket = connect({port, host: HOST});
    const chunks: Buffer[] = [];
    let isClosed = false;
    const waiters = new Set<() => void>();
    const notify = (): void => waiters.forEach((w) => w());
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      notify();
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      isClosed = true;
      notify();
    });
    const frames = (): Frame[] => parseFrames(Buffer.concat(chunks));
    const until = (check: () => boolean, timeoutMs: number): Promise<boolean> =>
      new Promise((done) => {
        if (check()) return done(true);
        const waiter = (): void => {
          if (!check()) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          done(true);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          done(check());
        }, timeoutMs);
        waiters.add(waiter);
      });
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.write(Buffer.concat([opts.preface ?? PREFACE, opts.preface ? Buffer.alloc(0) : settings(), first]));
      resolve({
        socket,
        write: (data) => void (socket.writable && socket.write(data)),
        frames,
        goawayCode() {
          const g = frames().find((f) => f.type === FRAME.GOAWAY);
          return g === undefined ? undefined : g.payload.readUInt32BE(4);
        },
        closed: (timeoutMs = 10_000) => until(() => isClosed, timeoutMs),
        waitFrames: (check, timeoutMs = 10_000) => until(() => check(frames()), timeoutMs),
        destroy: () => void socket.destroy(),
      });
    });
    socket.once('error', reject);
  });
}
