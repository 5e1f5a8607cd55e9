/**
 * HTTP/2 and gRPC pieces of the forwarder tests: an h2c app (node:http2) that records what reaches it, a buffered
 * h2c client request, and a small gRPC service defined by hand (JSON messages, no .proto file) with a real
 * @grpc/grpc-js server and client. Every wait is bounded.
 */
import {
  connect,
  constants,
  createServer,
  type ClientHttp2Session,
  type Http2Server,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type {AddressInfo} from 'node:net';
import * as grpc from '@grpc/grpc-js';
import {HOST} from './forwarder-harness.js';

export interface H2Seen {
  headers: IncomingHttpHeaders;
  stream: ServerHttp2Stream;
  /** RST_STREAM code when the stream closed (0: NO_ERROR). */
  closed: Promise<number>;
}

export interface H2App {
  readonly port: number;
  readonly url: string;
  readonly seen: H2Seen[];
  /** Sessions (TCP connections) accepted. */
  sessions(): number;
  close(): Promise<void>;
}

export type H2Handler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;

export async function startH2App(handler: H2Handler, settings: import('node:http2').Settings = {}): Promise<H2App> {
  const seen: H2Seen[] = [];
  let sessions = 0;
  const open = new Set<import('node:http2').Http2Session>();
  const server: Http2Server = createServer({settings});
  server.on('session', (s) => {
    sessions++;
    open.add(s);
    s.once('close', () => open.delete(s));
    s.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    seen.push({headers, stream, closed: new Promise((resolve) => stream.once('close', () => resolve(stream.rstCode ?? 0)))});
    handler(stream, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const {port} = server.address() as AddressInfo;
  return {
    port,
    url: `h2c://${HOST}:${port}`,
    seen,
    sessions: () => sessions,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Sessions still open (a test's client left one) must not hold the close.
        for (const s of open) s.destroy();
      }),
  };
}

/** An h2 app that answers every stream 200 `ok` at once. */
export function startOkH2App(): Promise<H2App> {
  return startH2App((stream) => {
    stream.respond({':status': 200});
    stream.end('ok');
  });
}

/**
 * An h2 app that counts the streams it gets (in all, and the most open at once) and answers each 200 `ok` after
 * `delayMs(headers)`, so that a burst piles up; a stream gone by then is left alone.
 */
export async function startCountingH2App(delayMs: (headers: IncomingHttpHeaders) => number): Promise<{app: H2App; counts: () => {total: number; peak: number}}> {
  let total = 0;
  let open = 0;
  let peak = 0;
  const app = await startH2App((stream, headers) => {
    total++;
    open++;
    peak = Math.max(peak, open);
    const answer = setTimeout(() => {
      if (stream.destroyed || stream.closed) return;
      stream.respond({':status': 200});
      stream.end('ok');
    }, delayMs(headers));
    stream.once('close', () => {
      open--;
      clearTimeout(answer);
    });
  });
  return {app, counts: () => ({total, peak})};
}

export interface H2Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  trailers: IncomingHttpHeaders | undefined;
  /** The response was one HEADERS frame with END_STREAM (trailers-only). */
  headersEndedStream: boolean;
}

/** One request on `session`, the response buffered; rejects on error, a reset or after `timeoutMs`. */
export function h2Request(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  opts: {body?: Buffer | string; trailers?: OutgoingHttpHeaders; timeoutMs?: number} = {},
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const hasBody = opts.body !== undefined || opts.trailers !== undefined;
    const req = session.request(headers, {endStream: !hasBody, waitForTrailers: opts.trailers !== undefined});
    const timer = setTimeout(() => req.close(constants.NGHTTP2_CANCEL), opts.timeoutMs ?? 10_000);
    if (opts.trailers) req.once('wantTrailers', () => req.sendTrailers(opts.trailers!));
    let head: IncomingHttpHeaders | undefined;
    let endFlag = false;
    let trailers: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.once('response', (h, flags) => {
      head = h;
      endFlag = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    req.once('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('close', () => {
      clearTimeout(timer);
      if (!head) return reject(new Error(`stream closed without a response (rstCode ${req.rstCode})`));
      if (req.rstCode !== constants.NGHTTP2_NO_ERROR) return reject(new Error(`stream reset (rstCode ${req.rstCode})`));
      resolve({status: Number(head[':status']), headers: head, body: Buffer.concat(chunks), trailers, headersEndedStream: endFlag});
    });
    if (hasBody) req.end(opts.body);
  });
}

export function h2Connect(port: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${HOST}:${port}`);
    session.once('connect', () => {
      session.off('error', reject);
      session.on('error', () => undefined);
      resolve(session);
    });
    session.once('error', reject);
  });
}

export function closeSession(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    if (session.destroyed) return resolve();
    session.close(() => resolve());
    setTimeout(() => {
      session.destroy();
      resolve();
    }, 1_000).unref();
  });
}

// ---- gRPC ----

/** JSON messages: the test needs real gRPC framing and status handling, not protobuf. */
const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString('utf8')),
};

function method(path: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<unknown, unknown> {
  return {
    path,
    requestStream,
    responseStream,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  };
}

/** A test service with every call shape, and the standard health service's Check. */
export const ECHO_SERVICE = {
  unary: method('/test.Echo/Unary', false, false),
  serverStream: method('/test.Echo/ServerStream', false, true),
  clientStream: method('/test.Echo/ClientStream', true, false),
  bidi: method('/test.Echo/Bidi', true, true),
} satisfies grpc.ServiceDefinition;

export const HEALTH_SERVICE = {
  check: method('/grpc.health.v1.Health/Check', false, false),
} satisfies grpc.ServiceDefinition;

export type EchoMessage = {text?: string; n?: number; delayMs?: number; fail?: number; size?: number};

export interface EchoClient extends grpc.Client {
  unary(req: EchoMessage, metadata: grpc.Metadata, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: EchoMessage) => void): grpc.ClientUnaryCall;
  serverStream(req: EchoMessage, metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<EchoMessage>;
  clientStream(metadata: grpc.Metadata, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: EchoMessage) => void): grpc.ClientWritableStream<EchoMessage>;
  bidi(metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<EchoMessage, EchoMessage>;
}

export const EchoClientCtor = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo') as unknown as new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => EchoClient;
export const HealthClientCtor = grpc.makeGenericClientConstructor(HEALTH_SERVICE, 'Health') as unknown as new (
  address: string,
  creds: grpc.ChannelCredentials,
) => grpc.Client & {check(req: object, cb: (err: grpc.ServiceError | null, res?: {status: string}) => void): grpc.ClientUnaryCall};

export interface GrpcApp {
  readonly port: number;
  readonly url: string;
  /** Calls that began on the server, by path. */
  readonly calls: {path: string; metadata: grpc.Metadata; cancelled: Promise<boolean>}[];
  close(): Promise<void>;
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The app: Unary echoes (after `delayMs`; `fail` answers that status), ServerStream sends `n` messages,
 * ClientStream counts what it got, Bidi echoes each message. Every call echoes the `x-test` request metadata
 * back as initial metadata and sends `x-trailer: done` as trailing metadata.
 */
export async function startGrpcApp(): Promise<GrpcApp> {
  const server = new grpc.Server();
  const calls: GrpcApp['calls'] = [];
  type AnyCall = {metadata: grpc.Metadata; cancelled: boolean; sendMetadata(m: grpc.Metadata): void; on(event: string, fn: () => void): unknown};
  const record = (call: AnyCall, path: string): void => {
    const md = call.metadata;
    calls.push({path, metadata: md, cancelled: new Promise((resolve) => {
      call.on('cancelled', () => resolve(true));
      call.on('finish', () => resolve(false));
      call.on('close', () => resolve(call.cancelled));
    })});
    const initial = new grpc.Metadata();
    const t = md.get('x-test')[0];
    if (t !== undefined) initial.set('x-test-echo', String(t));
    call.sendMetadata(initial);
  };
  const trailer = (): grpc.Metadata => {
    const m = new grpc.Metadata();
    m.set('x-trailer', 'done');
    return m;
  };
  server.addService(ECHO_SERVICE, {
    unary: (call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) => {
      record(call, 'unary');
      const req = call.request;
      const answer = (): void => {
        if (call.cancelled) return;
        if (req.fail) cb({code: req.fail, details: `failed as asked (${req.fail})`, metadata: trailer()});
        else cb(null, {text: req.text, size: req.size ? 'x'.repeat(req.size).length : undefined}, trailer());
      };
      if (!req.delayMs) return answer();
      // A call cancelled before its answer is due drops its timer, so none outlives the test that cancelled it.
      const due = setTimeout(answer, req.delayMs);
      call.once('cancelled', () => clearTimeout(due));
    },
    serverStream: async (call: grpc.ServerWritableStream<EchoMessage, EchoMessage>) => {
      record(call, 'serverStream');
      const {n = 3, delayMs = 0, text = ''} = call.request;
      for (let i = 0; i < n && !call.cancelled; i++) {
        call.write({text, n: i});
        if (delayMs) await sleepMs(delayMs);
      }
      if (!call.cancelled) call.end(trailer());
    },
    clientStream: (call: grpc.ServerReadableStream<EchoMessage, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) => {
      record(call, 'clientStream');
      let count = 0;
      let text = '';
      call.on('data', (m: EchoMessage) => {
        count++;
        text += m.text ?? '';
      });
      call.on('end', () => cb(null, {n: count, text}, trailer()));
    },
    bidi: (call: grpc.ServerDuplexStream<EchoMessage, EchoMessage>) => {
      record(call, 'bidi');
      call.on('data', (m: EchoMessage) => call.write({text: m.text, n: m.n}));
      call.on('end', () => call.end(trailer()));
    },
  });
  server.addService(HEALTH_SERVICE, {
    check: (_call: grpc.ServerUnaryCall<object, object>, cb: grpc.sendUnaryData<object>) => cb(null, {status: 'SERVING'}),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${HOST}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    url: `h2c://${HOST}:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

export function echoClient(port: number, options: grpc.ChannelOptions = {}): EchoClient {
  return new EchoClientCtor(`${HOST}:${port}`, grpc.credentials.createInsecure(), options);
}

export function unary(client: EchoClient, req: EchoMessage, opts: {metadata?: grpc.Metadata; deadlineMs?: number} = {}): Promise<{res?: EchoMessage; err?: grpc.ServiceError; metadata?: grpc.Metadata; status?: grpc.StatusObject}> {
  return new Promise((resolve) => {
    let metadata: grpc.Metadata | undefined;
    let status: grpc.StatusObject | undefined;
    let result: {res?: EchoMessage; err?: grpc.ServiceError} | undefined;
    const done = (): void => {
      if (result && status) resolve({...result, metadata, status});
    };
    const call = client.unary(req, opts.metadata ?? new grpc.Metadata(), opts.deadlineMs ? {deadline: Date.now() + opts.deadlineMs} : {}, (err, res) => {
      result = err ? {err} : {res};
      done();
    });
    call.on('metadata', (m) => (metadata = m));
    call.on('status', (s) => {
      status = s;
      done();
    });
  });
}
