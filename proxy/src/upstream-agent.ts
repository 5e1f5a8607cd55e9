/**
 * The keep-alive connection pool to the app. Its idle timeout must stay below the app's keep-alive timeout: a pooled
 * socket the app has just closed would otherwise be picked for the next request and turn into a 502 (the classic
 * keep-alive race; Node's own server closes idle sockets after 5 s, hence the 4 s default). Node's agent also honours
 * a `Keep-Alive: timeout=N` hint from the app, shortening the idle time to N-1 s.
 *
 * LIFO scheduling reuses the most recently used sockets, so under light load the others reach the idle timeout and
 * close on our side first, instead of every socket being kept barely alive until the app closes it.
 */
import {Agent} from 'node:http';
import type {Config} from './config.js';

export function createUpstreamAgent(config: Pick<Config, 'upstreamIdleTimeoutMs' | 'upstreamMaxSockets'>): Agent {
  return new Agent({
    keepAlive: true,
    // TCP keep-alive probes on pooled sockets (not the HTTP idle timeout).
    keepAliveMsecs: 1000,
    maxSockets: config.upstreamMaxSockets,
    maxFreeSockets: config.upstreamMaxSockets,
    // For pooled sockets: destroyed after this long idle (the agent resets it whenever a socket returns to the pool).
    timeout: config.upstreamIdleTimeoutMs,
    scheduling: 'lifo',
  });
}
