/**
 * HTTP/2 with prior knowledge (RFC 9113 §3.3) and HTTP/1.1 on one listener: an h2c client opens with the connection
 * preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, which no HTTP/1.1 request can start with (PRI is no method an
 * HTTP/1.1 server accepts). So the first bytes of each new connection decide: once per connection, never per
 * request. The bytes read are put back (`unshift`) for whichever server takes the socket; node:http2 reads what is
 * already buffered on a socket it is given.
 */
import type {Socket} from 'node:net';

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export type Sniffed = 'h2' | 'http1';

/**
 * How the bytes seen so far classify: 'h2' (the whole preface), 'http1' (anything that differs from it), or
 * undefined when they are a strict prefix of the preface and more must arrive.
 */
export function classify(data: Buffer): Sniffed | undefined {
  const n = Math.min(data.length, H2_PREFACE.length);
  // First byte decides almost every HTTP/1.1 connection ('G', 'P' of POST/PUT/PATCH...).
  for (let i = 0; i < n; i++) if (data[i] !== H2_PREFACE[i]) return 'http1';
  return n === H2_PREFACE.length ? 'h2' : undefined;
}

export interface PrefaceSniffer {
  /** Classifies a new connection, then hands it to `onH1` or `onH2` with its first bytes put back. */
  accept(socket: Socket): void;
  /** Connections that have not sent enough bytes yet to be classified. */
  pending(): number;
  /** Closes the unclassified connections (closing: nothing was asked on them yet). */
  closePending(): void;
}

/**
 * @param timeoutMs a connection that has not sent the first bytes of a request by then is closed: nothing runs on
 *   it yet, so node:http's header timeout (which starts only when node:http has the socket) cannot bound it. The
 *   traffic listener passes the header timeout.
 */
export function createPrefaceSniffer(opts: {
  timeoutMs: number;
  onH1: (socket: Socket) => void;
  onH2: (socket: Socket) => void;
  /** A connection starts waiting (+1) or stops (-1: handed over, closed): the open-connections gauge. */
  onWaiting?: (delta: 1 | -1) => void;
}): PrefaceSniffer {
  const {timeoutMs, onH1, onH2, onWaiting} = opts;
  const waiting = new Set<Socket>();

  const accept = (socket: Socket): void => {
    let buffered: Buffer | undefined;
    const finish = (): void => {
      if (!waiting.delete(socket)) return;
      onWaiting?.(-1);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (timer) clearTimeout(timer);
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered ? Buffer.concat([buffered, chunk]) : chunk;
      const kind = classify(buffered);
      if (kind === undefined) return;
      finish();
      // Stop the flow the 'data' listener started and put the bytes back; the next owner reads them first.
      socket.pause();
      socket.unshift(buffered);
      if (kind === 'h2') onH2(socket);
      else {
        onH1(socket);
        socket.resume();
      }
    };
    // Gone before a request began: nothing to answer, nothing to count.
    const onClose = (): void => finish();
    const onError = (): void => {
      finish();
      socket.destroy();
    };
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            finish();
            socket.destroy();
          }, timeoutMs)
        : undefined;
    timer?.unref?.();
    waiting.add(socket);
    onWaiting?.(1);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.on('error', onError);
  };

  return {
    accept,
    pending: () => waiting.size,
    closePending() {
      for (const socket of [...waiting]) socket.destroy();
    },
  };
}
