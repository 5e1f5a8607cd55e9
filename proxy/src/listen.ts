/**
 * Binds a server to a configured address. The empty host means every IPv4 and IPv6 address: `::` with dual-stack
 * (ipv6Only false) covers both; a node without IPv6 gets `0.0.0.0` instead.
 */
import type {Server} from 'node:net';
import type {AddressInfo} from 'node:net';
import type {ListenAddress} from './config.js';
import {LameduckError} from './errors.js';

/**
 * Accept backlog. Node's default (511) overflows when a burst of new connections meets a busy event loop (a
 * rollout's re-dial wave, an abort storm): the kernel then resets connections that reached us. The kernel caps
 * it at net.core.somaxconn (4096 on current kernels).
 */
export const LISTEN_BACKLOG = 4096;

function bind(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({host, port, ipv6Only: false, backlog: LISTEN_BACKLOG});
  });
}

/**
 * Binds, then routes later server errors (EMFILE/ENFILE on accept, ...) to `onError`: unhandled, they would be an
 * uncaught exception that ends the process in the middle of traffic.
 */
export async function listenOn(server: Server, address: ListenAddress, what: string, onError: (err: Error) => void): Promise<AddressInfo> {
  const describe = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
  try {
    let bound: AddressInfo;
    if (address.host !== '') bound = await bind(server, address.host, address.port);
    else {
      try {
        bound = await bind(server, '::', address.port);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw err;
        bound = await bind(server, '0.0.0.0', address.port);
      }
    }
    server.on('error', onError);
    return bound;
  } catch (cause) {
    throw new LameduckError('LISTEN_FAILED', `cannot listen on ${describe} for ${what}: ${(cause as Error).message}`, {cause});
  }
}
