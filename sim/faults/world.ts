/**
 * One fault scenario's world: the local API server with the subject pod `web-0` and a second ready pod `web-1` behind
 * Service `web`, the demo-app as web-0's app, a second demo-app standing for web-1 (where the "load balancer" sends
 * new connections once lameduck has deregistered), the real lameduck process, and open-loop load through it.
 *
 * The load balancer model: new connections go to lameduck until lameduck enters `settling` (it found the pod no
 * longer routed, or the fallback delay passed), then to web-1 — as kube-proxy does once the slices changed. Keep-alive
 * connections stay where they are until lameduck's `Connection: close` ends them. A request is *lost* when it fails on
 * the client side for any reason (refused, reset, 5xx, timeout).
 *
 * Every process here is this world's own: `dispose()` kills only them, so several worlds can run side by side.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {startApiServer, type ApiServer, type ApiServerOptions} from '../kube/apiserver.js';
import {makePod, makeService} from '../kube/fixtures.js';
import {startLoad, type Load, type LoadOptions} from '../load.js';
import {startDemoApp, startLameduck, type Child, type DemoApp, type Lameduck} from '../processes.js';
import {httpGet} from '../http.js';

export const NAMESPACE = 'faults';
export const SUBJECT = 'web-0';

/** The /prestop token of every world; admin() sends it, as the chart's preStop hook does. */
export const PRESTOP_TOKEN = 'faults-prestop-token-0123456789';

export interface WorldOptions {
  /** Run the API server (default true). */
  api?: boolean;
  apiOptions?: ApiServerOptions;
  /** Credentials as a kubeconfig whose user reads a token file (rotated by faults.rotateToken), not an inline token. */
  tokenFile?: boolean;
  /** `native` (trigger: GET /prestop, exit at the next SIGTERM) or `classic` (trigger: SIGTERM). Default native. */
  mode?: 'native' | 'classic';
  /** LAMEDUCK_DRAIN_TIMEOUT in ms. */
  deadlineMs: number;
  /** Extra lameduck env (wins). */
  env?: Record<string, string>;
  /** Load through lameduck; undefined: none. */
  load?: Omit<LoadOptions, 'host' | 'port'>;
}

export interface World {
  readonly api: ApiServer | undefined;
  readonly dir: string;
  readonly app: DemoApp;
  readonly backup: DemoApp;
  readonly ld: Lameduck;
  readonly load: Load | undefined;
  /** Wall-clock ms when lameduck logged `settling` (the LB moved), if it did. */
  movedAt(): number | undefined;
  /** GET on lameduck's admin port, with the /prestop token. */
  admin(path: string, timeoutMs?: number): ReturnType<typeof httpGet>;
  /** Kills what this world started (SIGKILL), stops the API server, removes files. Idempotent. */
  dispose(): Promise<void>;
}

async function killChild(c: Child | undefined): Promise<void> {
  if (!c) return;
  if (c.child.exitCode === null && c.child.signalCode === null) c.kill('SIGKILL');
  await c.exited;
}

function tokenFileKubeconfig(api: ApiServer, dir: string): string {
  const sa = api.writeServiceAccount(join(dir, 'sa'), {namespace: NAMESPACE});
  const path = join(dir, 'kubeconfig-tokenfile.json');
  // JSON is YAML; client-node maps `auth-provider` with config.tokenFile to its FileAuth (cached for 60 s). An
  // auth-provider is one of the kubeconfigs lameduck hands to client-node (proxy/src/kube/kubeconfig.ts).
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{name: 'sim', cluster: {server: api.url, 'certificate-authority-data': Buffer.from(api.caPem).toString('base64')}}],
      users: [{name: 'sa', user: {'auth-provider': {name: 'tokenFile', config: {tokenFile: sa.tokenPath}}}}],
      contexts: [{name: 'sim', context: {cluster: 'sim', user: 'sa', namespace: NAMESPACE}}],
      'current-context': 'sim',
    }),
  );
  return path;
}

export async function startWorld(o: WorldOptions): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'lameduck-faults-'));
  let api: ApiServer | undefined;
  let app: DemoApp | undefined;
  let backup: DemoApp | undefined;
  let ld: Lameduck | undefined;
  let load: Load | undefined;
  let disposed = false;
  const dispose = async (): Promise<void> => {
    if (disposed) return;
    disposed = true;
    await load?.stop().catch(() => undefined);
    await Promise.all([killChild(ld), killChild(app), killChild(backup)]);
    await api?.stop().catch(() => undefined);
    rmSync(dir, {recursive: true, force: true});
  };
  try {
    const env: Record<string, string> = {};
    if (o.api ?? true) {
      api = await startApiServer(o.apiOptions);
      api.store.createService(makeService({name: 'web', namespace: NAMESPACE, selector: {app: 'web'}}));
      const subject = api.store.createPod(makePod({name: SUBJECT, namespace: NAMESPACE, ip: '127.0.0.10', ready: true, labels: {app: 'web'}, terminationGracePeriodSeconds: 30}));
      api.store.createPod(makePod({name: 'web-1', namespace: NAMESPACE, ip: '127.0.0.11', ready: true, labels: {app: 'web'}}));
      await api.whenControllersIdle();
      Object.assign(env, {
        POD_NAME: SUBJECT,
        POD_NAMESPACE: NAMESPACE,
        POD_UID: subject.metadata.uid!,
        POD_IPS: '127.0.0.10',
        KUBECONFIG: o.tokenFile ? tokenFileKubeconfig(api, dir) : api.writeKubeconfig(dir, {namespace: NAMESPACE}),
      });
    }
    [app, backup] = await Promise.all([startDemoApp({POD_NAME: SUBJECT}), startDemoApp({POD_NAME: 'web-1'})]);
    ld = await startLameduck({
      LAMEDUCK_UPSTREAM: `http://127.0.0.1:${app.port}`,
      LAMEDUCK_MODE: o.mode ?? 'native',
      LAMEDUCK_DRAIN_TIMEOUT: `${o.deadlineMs}ms`,
      LAMEDUCK_SETTLE: '300ms',
      LAMEDUCK_QUIET: '300ms',
      LAMEDUCK_FALLBACK_DELAY: '1s',
      // As the chart configures it: the app's preStop hook carries the token, so a native fallback drain may start.
      LAMEDUCK_PRESTOP_TOKEN: PRESTOP_TOKEN,
      ...env,
      ...o.env,
    });
    let moved: number | undefined;
    if (o.load) {
      const l = startLoad({host: '127.0.0.1', port: ld.trafficPort, timeoutMs: 8_000, durationMs: 60_000, ...o.load});
      load = l;
      const b = backup;
      ld.waitForLog((line) => line.msg === 'phase' && line.to === 'settling', 120_000).then(
        () => {
          moved = Date.now();
          l.setTarget('127.0.0.1', b.port);
        },
        () => undefined,
      );
    }
    const adminPort = ld.adminPort;
    return {
      api,
      dir,
      app,
      backup,
      ld,
      load,
      movedAt: () => moved,
      admin: (path, timeoutMs = 10_000) => httpGet({host: '127.0.0.1', port: adminPort, path, timeoutMs, headers: {'x-lameduck-token': PRESTOP_TOKEN}}),
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
