/**
 * The demo-app's gRPC service, defined by hand: JSON messages instead of protobuf (both ends are ours, and gRPC's
 * framing, HTTP/2 streams, statuses and GOAWAY handling are what matter to a rollout, not the payload encoding), so
 * no .proto file and no code generator. The standard health service's Check is the exception: it is real protobuf,
 * encoded by hand (two fields), so kubelet's `grpc` probe and grpc_health_probe can ask it.
 * Type-only imports: loading this file does not load @grpc/grpc-js.
 */
import type {MethodDefinition, ServiceDefinition} from '@grpc/grpc-js';

export const DEMO_SERVICE_NAME = 'lameduck.demo.Demo';
/** Response metadata (initial) naming the pod that served the call, like the HTTP mode's `X-Pod-Name` header. */
export const POD_METADATA_KEY = 'x-pod-name';

export interface HelloRequest {
  name?: string;
}
export interface HelloReply {
  pod: string;
  message: string;
}
export interface StreamRequest {
  /** Messages to send. */
  count: number;
  /** Between two messages, ms. */
  intervalMs: number;
}
export interface StreamReply {
  pod: string;
  seq: number;
}

export const MAX_STREAM_COUNT = 100_000;
export const MAX_STREAM_INTERVAL_MS = 60_000;

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => (bytes.length === 0 ? {} : JSON.parse(bytes.toString('utf8'))),
};

function method<Req, Res>(path: string, responseStream: boolean): MethodDefinition<Req, Res> {
  return {
    path,
    requestStream: false,
    responseStream,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize as (b: Buffer) => Req,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize as (b: Buffer) => Res,
  };
}

export const DEMO_SERVICE = {
  hello: method<HelloRequest, HelloReply>(`/${DEMO_SERVICE_NAME}/Hello`, false),
  stream: method<StreamRequest, StreamReply>(`/${DEMO_SERVICE_NAME}/Stream`, true),
} satisfies ServiceDefinition;

/** grpc.health.v1.HealthCheckResponse.ServingStatus. */
export const SERVING = 1;

/**
 * grpc.health.v1.Health/Check in protobuf wire format: the request's `service` (field 1, string) is read; the
 * response is `status` (field 1, enum) as a varint.
 * https://github.com/grpc/grpc/blob/master/doc/health-checking.md
 */
export const HEALTH_SERVICE = {
  check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: (r: {service?: string}): Buffer => {
      const s = Buffer.from(r.service ?? '');
      return s.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, s.length]), s]);
    },
    requestDeserialize: (b: Buffer): {service?: string} => {
      // Field 1, wire type 2 (0x0a), a one-byte length: enough for the service names a probe sends.
      if (b.length >= 2 && b[0] === 0x0a && b[1]! < 0x80) return {service: b.subarray(2, 2 + b[1]!).toString('utf8')};
      return {};
    },
    responseSerialize: (r: {status: number}): Buffer => Buffer.from([0x08, r.status]),
    responseDeserialize: (b: Buffer): {status: number} => ({status: b.length >= 2 && b[0] === 0x08 ? b[1]! : 0}),
  } satisfies MethodDefinition<{service?: string}, {status: number}>,
} satisfies ServiceDefinition;
