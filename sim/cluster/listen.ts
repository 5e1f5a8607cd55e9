// How the simulation's balancers (ingress.ts, l4-balancer.ts) open their listening socket.
import type {AddressInfo, Server} from 'node:net';

/**
 * Listens on `host`:`port` (0: any free port) and resolves with the port bound; rejects if listening fails. A deep
 * accept queue: on a busy machine a late accept() then costs latency, not a dropped SYN and its 1 s / 3 s / 7 s
 * retransmission stalls (which would look like the pods' fault).
 */
export async function listenDeep(server: Server, host: string, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({host, port, backlog: 4096}, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
