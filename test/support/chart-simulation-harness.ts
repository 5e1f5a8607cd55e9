/**
 * Runs charts/demo as rendered by a real helm on the local cluster simulation (shared by chart-simulation-*.test.ts):
 * its Deployment and Service are fed as they are to the API server with a lagging EndpointSlice controller, the
 * kubelet (the images run as the Dockerfiles' commands), a Deployment controller and a kube-proxy-like balancer
 * whose view lags the slices; then one rollout with the NOTES.txt step (`kubectl set env … ROLLOUT=…`) under
 * open-loop load. Everything it starts is stopped in `finally`.
 */
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {startApiServer, type ApiServer} from '../../sim/kube/apiserver.js';
import type {Pod, Service} from '../../sim/kube/types.js';
import {createDeploymentController, TEMPLATE_HASH_LABEL, type DeploymentController, type PodTemplate} from '../../sim/cluster/deployment-controller.js';
import {createEndpointView, type EndpointView} from '../../sim/cluster/endpoint-view.js';
import {createImageMap, findRepoRoot} from '../../sim/cluster/images.js';
import {createKubelet, type Kubelet} from '../../sim/cluster/kubelet.js';
import type {SecretData} from '../../sim/cluster/pod-env.js';
import {startL4Balancer, type L4Balancer} from '../../sim/cluster/l4-balancer.js';
import {createLoopbackIpPool} from '../../sim/cluster/loopback-ips.js';
import {createPodRecorder, type PodRecorder} from '../../sim/cluster/pod-recorder.js';
import {sleep, waitFor} from '../../sim/cluster/wait.js';
import {startLoad, type Load, type LoadReport} from '../../sim/load.js';
import {findObject, renderChart, type KubeObject} from './helm.js';

/** kube-proxy-like propagation, which the chart's default `environment: kube-proxy` (settle 2 s) is meant for. */
export const LAGS = {controller: {minMs: 0, maxMs: 1000}, loadBalancer: {minMs: 200, maxMs: 1500}};

export interface ChartRollout {
  objects: KubeObject[];
  report: LoadReport;
  recorder: PodRecorder;
  /** lameduck's `drain summary` log lines, one per drained pod. */
  summaries: Record<string, unknown>[];
}

/** The rendered Secrets (the token Secret), decoded, for the kubelet's `secretKeyRef`. */
function secretsOf(objects: readonly KubeObject[]): SecretData {
  const out: Record<string, Record<string, string>> = {};
  for (const o of objects) {
    if (o.kind !== 'Secret') continue;
    const data = (o.data ?? {}) as Record<string, string>;
    out[o.metadata.name] = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }
  return out;
}

export async function rollChart(values: {replicaCount: number} & Record<string, unknown>): Promise<ChartRollout> {
  const replicas = values.replicaCount;
  const objects = await renderChart('charts/demo', values, {release: 'demo', namespace: 'default'});
  const rendered = findObject(objects, 'Deployment');
  const service = findObject(objects, 'Service');
  const spec = rendered.spec as {replicas: number; template: PodTemplate; strategy: {rollingUpdate: {maxSurge: number; maxUnavailable: number}}};

  const dir = mkdtempSync(join(tmpdir(), 'lameduck-chart-sim-'));
  const recorder = createPodRecorder();
  let api: ApiServer | undefined;
  let kubelet: Kubelet | undefined;
  let deployment: DeploymentController | undefined;
  let view: EndpointView | undefined;
  let lb: L4Balancer | undefined;
  let load: Load | undefined;
  try {
    const ips = createLoopbackIpPool();
    api = await startApiServer({tls: true, endpointSliceLag: LAGS.controller});
    const kubeconfigPath = api.writeKubeconfig(dir, {namespace: 'default'});
    kubelet = createKubelet({store: api.store, images: createImageMap({repoRoot: findRepoRoot()}), ips, kubeconfigPath, recorder, secrets: secretsOf(objects)});
    api.store.createService(service as unknown as Service);
    deployment = createDeploymentController({
      store: api.store,
      deployment: {name: rendered.metadata.name, namespace: 'default', replicas: spec.replicas, template: spec.template, strategy: spec.strategy.rollingUpdate},
    });
    await deployment.waitForRollout(60_000);

    view = createEndpointView({store: api.store, namespace: 'default', service: service.metadata.name, portName: 'http', lag: LAGS.loadBalancer});
    await waitFor('every replica ready behind the Service', () => view!.endpoints().filter((e) => e.ready).length >= replicas, 30_000);
    lb = await startL4Balancer({view, host: ips.allocate()});
    load = startLoad({host: lb.host, port: lb.port, rps: 60, keepAliveFraction: 0.5, slowFraction: 0.05, slowMs: 1000, timeoutMs: 15_000, durationMs: 150_000});
    await sleep(1000);

    // NOTES.txt step 2: `kubectl set env deployment/demo -c app ROLLOUT=…` (a new pod template).
    deployment.rollout((t) => {
      const app = t.spec.containers.find((c) => c.name === 'app')!;
      app.env = [...((app.env as {name: string}[] | undefined) ?? []), {name: 'ROLLOUT', value: '1'}] as typeof app.env;
    });
    await deployment.waitForRollout(90_000);
    const revision = deployment.status().revision;
    await waitFor('old pods gone', () => api!.store.list<Pod>('pods', 'default').every((p) => p.metadata.labels?.[TEMPLATE_HASH_LABEL] === revision && !p.metadata.deletionTimestamp), 90_000, 50);
    // Failures of a bad shutdown keep coming until the balancer's lagged view has caught up: run until then.
    await waitFor('the balancer caught up', () => {
      const podIps = new Set(api!.store.list<Pod>('pods', 'default').map((p) => p.status?.podIP));
      const eps = view!.endpoints();
      return eps.length === replicas && eps.every((e) => e.ready && podIps.has(e.ip));
    }, 30_000, 50);
    await sleep(1000);
    const report = await load.stop();
    const pods = [...new Set(recorder.logs.map((l) => l.pod))];
    const summaries = pods.flatMap((pod) => recorder.jsonLogs(pod, 'lameduck').filter((l) => l.entry.msg === 'drain summary').map((l) => ({pod, ...l.entry})));
    return {objects, report, recorder, summaries};
  } finally {
    await load?.stop();
    await lb?.close();
    view?.close();
    deployment?.stop();
    await kubelet?.stop();
    await api?.shutdown();
    rmSync(dir, {recursive: true, force: true});
  }
}
