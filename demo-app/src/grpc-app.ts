import * as grpc from '@grpc/grpc-js';
import {
  DEMO_SERVICE,
  HEALTH_SERVICE,
  MAX_STREAM_COUNT,
  MAX_STREAM_INTERVAL_MS,
  POD_METADATA_KEY,
  SERVING,
  type HelloReply,
  type HelloRequest,
  type StreamReply,
  type StreamRequest,
} from './grpc-service.js';
import type {DemoApp} from './app.js';

/**
 * The demo-app's gRPC mode (PROTOCOL=grpc): the same legacy app, serving gRPC (HTTP/2 without TLS) on its port
 * instead of HTTP/1.1 — a unary `Hello` and a server-streaming `Stream` (demo-app/src/grpc-service.ts), plus the
 * standard health Check. Just as legacy as the HTTP mode: no graceful shutdown (`server.tryShutdown` is never called),
 * so SIGTERM kills it with its streams open, and no GOAWAY ever tells a client to go elsewhere.
 */
export interface GrpcDemoAppDeps {
  podName: string;
  log: (line: Record<string, unknown>) => void;
}

function validInt(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

function podMetadata(podName: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(POD_METADATA_KEY, podName);
  return md;
}

export function createGrpcDemoApp(deps: GrpcDemoAppDeps): DemoApp {
  const {podName} = deps;
  const server = new grpc.Server();
  server.addService(DEMO_SERVICE, {
    hello(call: grpc.ServerUnaryCall<HelloRequest, HelloReply>, callback: grpc.sendUnaryData<HelloReply>) {
      call.sendMetadata(podMetadata(podName));
      const name = typeof call.request.name === 'string' ? call.request.name : 'world';
      callback(null, {pod: podName, message: `hello ${name} from ${podName}`});
    },
    stream(call: grpc.ServerWritableStream<StreamRequest, StreamReply>) {
      const {count, intervalMs} = call.request;
      if (!validInt(count, MAX_STREAM_COUNT) || !validInt(intervalMs, MAX_STREAM_INTERVAL_MS)) {
        call.emit('error', {code: grpc.status.INVALID_ARGUMENT, details: `count must be an integer in 0..${MAX_STREAM_COUNT}, intervalMs in 0..${MAX_STREAM_INTERVAL_MS}`});
        return;
      }
      call.sendMetadata(podMetadata(podName));
      let seq = 0;
      let timer: NodeJS.Timeout | undefined;
      const next = (): void => {
        if (call.cancelled) return;
        if (seq >= count) return void call.end();
        call.write({pod: podName, seq: seq++});
        timer = setTimeout(next, intervalMs);
      };
      // A client that cancels (or a deadline) must not leave a timer behind.
      call.on('cancelled', () => clearTimeout(timer));
      next();
    },
  });
  server.addService(HEALTH_SERVICE, {
    check(_call: grpc.ServerUnaryCall<{service?: string}, {status: number}>, callback: grpc.sendUnaryData<{status: number}>) {
      callback(null, {status: SERVING});
    },
  });

  return {
    listen(port, host) {
      const h = host ?? '::';
      const address = `${h.includes(':') ? `[${h}]` : h}:${port}`;
      return new Promise((resolve, reject) => {
        server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => {
          if (err) return reject(err);
          deps.log({msg: 'grpc serving', address, pod: podName});
          resolve(bound);
        });
      });
    },
  };
}
