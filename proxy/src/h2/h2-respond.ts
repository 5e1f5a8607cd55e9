/**
 * How lameduck answers or ends a client stream itself: an error it makes (a gRPC status for gRPC, else 502/503/504
 * with a one-line text body), the status at the deadline, and trailers.
 */
import {constants} from 'node:http2';
import {LameduckError} from '../errors.js';
import type {UpstreamFailure} from '../upstream-errors.js';
import {GRPC_FAILURES, grpcTrailers, grpcTrailersOnly} from './grpc-errors.js';
import type {Exchange, H2Context} from './h2-context.js';

const {NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR} = constants;

const TEXT_HEADERS = {'content-type': 'text/plain; charset=utf-8'};
const NO_TRAILERS = Object.freeze({waitForTrailers: false});
const WAIT_TRAILERS = Object.freeze({waitForTrailers: true});

type GrpcFailure = {status: (typeof GRPC_FAILURES)[keyof typeof GRPC_FAILURES]['status']; message: string};

/**
 * Response options for a response that may end with trailers: gRPC always (its status is a trailer), otherwise
 * when the client said it accepts them (`TE: trailers`, RFC 9110 §10.1.4) or the app declared them (`Trailer`).
 * Other responses end with their last DATA frame: waiting for trailers costs an extra empty DATA frame and an
 * event per response, and undeclared trailers of a client that did not ask for them may be dropped (RFC 9110 §6.5.1).
 */
export function trailerOptions(ex: Exchange, declared: boolean): {waitForTrailers: boolean} {
  if (!ex.grpc && !ex.teTrailers && !declared) return NO_TRAILERS;
  ex.stream.once('wantTrailers', () => {
    try {
      ex.stream.sendTrailers(ex.trailers ?? {});
    } catch {
      ex.stream.close(NGHTTP2_INTERNAL_ERROR);
    }
  });
  return WAIT_TRAILERS;
}

/** Answers (or, past the response head, ends) a stream with an error lameduck makes itself. */
export function failLocal(ex: Exchange, status: number, message: string, grpc: GrpcFailure): void {
  ex.failed = true;
  const {stream} = ex;
  if (stream.destroyed || stream.closed) return;
  if (!ex.responded && !stream.headersSent) {
    ex.responded = true;
    if (ex.grpc) {
      ex.status = 200;
      ex.grpcStatus = grpc.status;
      stream.respond(grpcTrailersOnly(grpc.status, grpc.message), {endStream: true});
    } else {
      ex.status = status;
      stream.respond({':status': status, ...TEXT_HEADERS});
      stream.end(`${status} ${message}\n`);
    }
    return;
  }
  if (ex.grpc && !stream.writableEnded) {
    // Headers went out with waitForTrailers: the status goes in the trailers.
    ex.grpcStatus = grpc.status;
    ex.trailers = grpcTrailers(grpc.status, grpc.message);
    stream.end();
    return;
  }
  // A body under way cannot be ended cleanly: the client must not take a truncated body for a complete one.
  stream.close(NGHTTP2_INTERNAL_ERROR);
}

/** A failure of the app (or of reaching it): counted, logged (throttled), and answered as failLocal does. */
export function failUpstream(ctx: H2Context, ex: Exchange, failure: UpstreamFailure, err: unknown): void {
  if (ex.failed || ex.closed || ctx.state.destroying) return;
  ctx.metrics.upstreamErrors.inc({reason: failure.reason});
  ctx.throttle.warn('upstream request failed', {
    protocol: 'h2c',
    reason: failure.reason,
    status: failure.status,
    grpc: ex.grpc,
    error: new LameduckError(failure.code, failure.message, {cause: err}),
  });
  // Past the head a reset or timeout can only end the stream (trailers for gRPC, RST otherwise).
  failLocal(ex, failure.status, failure.message, GRPC_FAILURES[failure.reason]);
}

/** The deadline for one open stream: a gRPC status the client can act on, else a reset. */
export function cutDeadline(ex: Exchange): void {
  const {stream} = ex;
  ex.cancel?.();
  if (stream.closed || stream.destroyed) return;
  if (ex.grpc && (!stream.headersSent || !stream.writableEnded)) {
    const grpc = GRPC_FAILURES.deadline;
    ex.grpcStatus = grpc.status;
    if (!stream.headersSent) {
      stream.respond(grpcTrailersOnly(grpc.status, grpc.message), {endStream: true});
    } else {
      ex.trailers = grpcTrailers(grpc.status, grpc.message);
      stream.end();
    }
    return;
  }
  stream.close(NGHTTP2_CANCEL);
}
