/**
 * undici's HTTP/1.1 `Client` by its own module path. The package index also loads fetch, WebSocket, the caches and
 * the mock agents: +8.3 MB of idle RSS in lameduck, against +0.7 MB for the client alone (the ≤ 60 MB idle
 * target; docs/performance.md). undici 7 publishes no `exports` map, so the path is importable; the class is the one
 * the index re-exports, typed from it.
 */
declare module 'undici/lib/dispatcher/client.js' {
  import {Client} from 'undici';
  export default Client;
}
