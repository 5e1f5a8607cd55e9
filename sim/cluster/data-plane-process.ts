/**
 * Entry point of the data-plane child process (see data-plane.ts): runs the balancers and the load generators,
 * takes endpoint snapshots from the parent, reports progress, and hands every request record back at the end.
 * It exits when told to stop, or when its parent goes away (the IPC channel closes), so it never outlives a run.
 */
import {createStaticView, startDataPlaneParts, type ToChild, type ToParent} from './data-plane.js';

const send = (m: ToParent): Promise<void> =>
  new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(m, undefined, {}, () => resolve());
  });

let parts: Awaited<ReturnType<typeof startDataPlaneParts>> | undefined;
const views = {lb: [] as ReturnType<typeof createStaticView>[], ingress: createStaticView([]), dns: createStaticView([])};
let countsTimer: NodeJS.Timeout | undefined;

async function stopAndExit(): Promise<void> {
  clearInterval(countsTimer);
  try {
    if (parts) {
      const result = await parts.stop();
      // Only once the result has been handed over may the channel close.
      await send({type: 'result', result});
    }
  } catch (err) {
    await send({type: 'error', message: (err as Error).message});
  }
  process.exit(0);
}

process.on('message', (m: ToChild) => {
  void (async () => {
    try {
      switch (m.type) {
        case 'start':
          views.lb = m.endpoints.lb.map((e) => createStaticView(e));
          views.ingress.set(m.endpoints.ingress);
          views.dns.set(m.endpoints.dns);
          parts = await startDataPlaneParts({views, hosts: m.hosts, dnsTtlMs: m.dnsTtlMs});
          void send({type: 'ready', lbs: parts.lbs.map((lb) => ({host: lb.host, port: lb.port})), ingress: {host: parts.ingress.host, port: parts.ingress.port}});
          break;
        case 'endpoints':
          if (m.which.kind === 'lb') views.lb[m.which.node]?.set(m.endpoints);
          else views[m.which.kind].set(m.endpoints);
          break;
        case 'load':
          await parts?.startLoads(m.loads);
          countsTimer ??= setInterval(() => void send({type: 'counts', ...parts!.counts()}), 500);
          void send({type: 'loading'});
          break;
        case 'stop':
          await stopAndExit();
          break;
      }
    } catch (err) {
      void send({type: 'error', message: (err as Error).stack ?? String(err)});
    }
  })();
});

// The parent is gone (crashed, killed): nothing left to serve or report to.
process.on('disconnect', () => {
  setTimeout(() => process.exit(0), 50);
});
