/**
 * The data plane (docs/design.md "Data plane"): an HTTP/1.1 reverse proxy in front of the app, with the counts and
 * controls the drain needs. The parts, one concept per file:
 *
 * - server.ts: node:http's server, listen, and the drain hooks (close() = the `closing` phase, destroy() = the deadline).
 * - context.ts: the state every part shares, as one explicit object (counts, closing flags, pool, connection tracker).
 * - request.ts → exchange.ts: a request's accounting (in flight, served, drained, metrics by phase and status).
 * - pipeline.ts: pipelined requests (RFC 9112 §9.3.2, §9.6): unsafe ones one at a time, none after a close.
 * - attempt.ts: one upstream attempt through the keep-alive pool (upstream-pool.ts, bounded queue), and the retry rule.
 * - client-timeouts.ts: the send and request-body idle timeouts (clients that stop reading or sending).
 * - upgrade.ts: WebSocket upgrades through http-proxy-3 (loaded on first use).
 * - client-errors.ts: answers written straight on the socket (parser errors, refused upgrades, CONNECT).
 *
 * Plain requests: node:http's server takes them, undici's client sends them upstream (the header list built in one
 * pass by forwarded-headers.ts). Why not http-proxy-3 for everything: in the same run it cost ~25–30 µs of CPU per
 * request over a bare node:http forward, and node:http's client in turn ~1.5× undici's per request
 * (docs/performance.md "The request path"). Bodies stream both ways (backpressure, never buffered); hop-by-hop
 * headers removed both ways (hop-by-hop.ts). HTTP/2 with prior knowledge (h2c) shares the listener: ../h2/ (docs/http2.md).
 *
 * Upstream failures: refused 502, timeout 504, reset or malformed response 502, a one-line text body, a metric by
 * reason and a rate-limited warning. A failure after the response head was sent can only cut the client connection.
 * A client that goes away aborts its upstream request (so the app sees `close`); counted as a client abort.
 *
 * Requests read `phase()` twice (at arrival for the metrics label, at the response head for `Connection: close`); no
 * logging per request above debug; per request one small state object and one close listener.
 */
export {createForwarder} from './server.js';
export {STATUS_CLIENT_CLOSED, type Forwarder, type ForwarderDeps, type ForwarderStats} from './types.js';
