/**
 * Injection into one pod template (or one Pod): the library chart's lameduck.podSpec (charts/lameduck/templates/
 * _pod.tpl) plus the port takeover, on plain objects. Pure: returns a new template, never changes its input.
 *
 * Re-injection: a template marked `lameduck.io/injected` has what the last injection added taken out first (strip.ts),
 * then is injected again. So injecting twice changes nothing, and a newer lameduck replaces an older one cleanly.
 */
import {chooseAppPort, chooseAppProtocol, chooseTrafficPort, releasePortName, type AppPort, type AppProtocol} from './app-port.js';
import {InjectError} from './errors.js';
import {drainGraceSeconds} from './grace.js';
import {AUTOMOUNT_OFF_ANNOTATION, INJECTED_ANNOTATION, type InjectSettings} from './settings.js';
import {sidecarContainer, tokenVolume} from './sidecar-container.js';
import {stripInjection} from './strip.js';
import type {Container, Handler, PodSpec, PodTemplate} from './types.js';

export interface Injected {
  template: PodTemplate;
  /** The app's port lameduck took over (its number, and its former name if it had one). */
  appPort: AppPort;
  /** How lameduck speaks to the app (the scheme of LAMEDUCK_UPSTREAM). */
  appProtocol: AppProtocol;
  /** The name of lameduck's traffic port: what a Service's targetPort must say. */
  trafficName: string;
  trafficPort: number;
}

/** A pod that already carries a lameduck the injector did not add (the library chart's): left as it is. */
export interface AlreadyProtected {
  alreadyProtected: true;
}

/** lameduck's preStop on the app container: kubelet waits for it before it sends the app SIGTERM. */
export function prestopHook(s: Readonly<InjectSettings>): Handler {
  const httpGet: NonNullable<Handler['httpGet']> = {path: '/prestop', port: s.adminPort, scheme: 'HTTP'};
  if (s.prestopToken?.value) httpGet.httpHeaders = [{name: 'X-Lameduck-Token', value: s.prestopToken.value}];
  return {httpGet};
}

function appContainerIndex(containers: readonly Container[], s: Readonly<InjectSettings>, workload: string): number {
  if (!s.appContainer) return 0;
  const i = containers.findIndex((c) => c.name === s.appContainer);
  if (i < 0) {
    throw new InjectError('INJECT_NO_APP_CONTAINER', workload, `lameduck.io/container=${JSON.stringify(s.appContainer)} is not among the pod's containers (${containers.map((c) => c.name).join(', ')})`);
  }
  return i;
}

function withPrestop(app: Container, s: Readonly<InjectSettings>, workload: string): Container {
  const lifecycle = {...(app.lifecycle ?? {})};
  if (lifecycle.preStop) {
    // A container has one preStop handler, and lameduck's is what holds the app until the drain is done.
    if (s.appPrestop === 'keep') return app;
    if (s.appPrestop === 'refuse') {
      throw new InjectError('INJECT_EXISTING_PRESTOP', workload, `container ${JSON.stringify(app.name)} already has a lifecycle.preStop hook, and a container has only one. Annotate lameduck.io/app-prestop: replace (lameduck's hook replaces it; a "sleep" hook is what lameduck does better) or keep (your hook must then call http://127.0.0.1:${s.adminPort}/prestop before it returns)`);
    }
  }
  lifecycle.preStop = prestopHook(s);
  return {...app, lifecycle};
}

function checkClashes(spec: PodSpec, s: Readonly<InjectSettings>, taken: AppPort, workload: string): void {
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const p of c.ports ?? []) {
      if (p.name === s.adminName) {
        throw new InjectError('INJECT_NAME_CLASH', workload, `container ${JSON.stringify(c.name)} already has a port named ${JSON.stringify(s.adminName)}, the name of lameduck's admin port; rename that port`);
      }
      if (p.containerPort === s.adminPort) {
        throw new InjectError('INJECT_PORT_CLASH', workload, `container ${JSON.stringify(c.name)} already uses port ${s.adminPort}, lameduck's admin port; set lameduck.io/admin-port to a free port`);
      }
      if (!taken.name && p.name === s.trafficName) {
        throw new InjectError('INJECT_NAME_CLASH', workload, `container ${JSON.stringify(c.name)} already has a port named ${JSON.stringify(s.trafficName)}, the name lameduck's traffic port would get; rename that port`);
      }
    }
  }
  if (taken.number === s.adminPort) {
    throw new InjectError('INJECT_PORT_CLASH', workload, `the app's port ${taken.number} is lameduck's admin port; set lameduck.io/admin-port to a free port`);
  }
}

export function injectPodTemplate(input: PodTemplate, s: Readonly<InjectSettings>, version: string, workload: string): Injected | AlreadyProtected {
  const stripped = stripInjection(structuredClone(input), s);
  const template = stripped.template;
  const spec: PodSpec = template.spec ?? {};
  const containers = spec.containers ?? [];
  if (containers.length === 0) throw new InjectError('INJECT_NO_CONTAINERS', workload, 'the pod template has no containers');
  if ([...(spec.initContainers ?? []), ...containers].some((c) => c.name === s.containerName)) {
    if (!stripped.previous) return {alreadyProtected: true};
    throw new InjectError('INJECT_NAME_CLASH', workload, `the pod has a second container named ${JSON.stringify(s.containerName)}; remove it`);
  }
  const appIndex = appContainerIndex(containers, s, workload);
  const app = containers[appIndex]!;
  // Re-injection: the port the previous injection took (its name is lameduck's now, the app's port is unnamed).
  const prev = stripped.previous;
  const samePort = prev && (!s.port || s.port === prev.trafficName || s.port === String(prev.appPort));
  const appPort: AppPort = prev && samePort
    ? {number: prev.appPort, ...(prev.trafficName !== s.trafficName ? {name: prev.trafficName} : {})}
    : chooseAppPort(app, s, workload);
  const released = releasePortName(app, appPort);
  const nextContainers = containers.map((c, i) => (i === appIndex ? released : c));
  const trafficName = appPort.name ?? s.trafficName;
  checkClashes({...spec, containers: nextContainers}, s, appPort, workload);
  const trafficPort = chooseTrafficPort({...spec, containers: nextContainers}, appPort, s, workload);
  nextContainers[appIndex] = withPrestop(released, s, workload);

  // Least privilege, as the library chart: the app gets no API credentials unless it asks; the sidecar its own token.
  const automountOff = !s.automountForApp && spec.automountServiceAccountToken === undefined;
  if (automountOff) spec.automountServiceAccountToken = false;
  const projectToken = s.projectToken === 'always' || (s.projectToken === 'auto' && spec.automountServiceAccountToken === false);
  const appProtocol = chooseAppProtocol(app, appPort, s);
  const sidecar = sidecarContainer(s, {trafficPort, trafficName, appPort: appPort.number, appProtocol, projectToken});
  if (s.mode === 'native') {
    spec.initContainers = [...(spec.initContainers ?? []), sidecar];
    spec.containers = nextContainers;
  } else {
    spec.containers = [...nextContainers, sidecar];
  }
  // The pause container becomes PID 1; an app that ignores SIGTERM as PID 1 then ends on it (kind (b) -> (a)).
  if (s.legacyApp) spec.shareProcessNamespace = true;
  if (projectToken) spec.volumes = [...(spec.volumes ?? []), tokenVolume(s)];
  // Raised when shorter than a drain needs: kubelet kills the pod at the end of the grace period, drain or not.
  const grace = drainGraceSeconds(s);
  if (spec.terminationGracePeriodSeconds === undefined || spec.terminationGracePeriodSeconds < grace) spec.terminationGracePeriodSeconds = grace;
  template.spec = spec;
  template.metadata = {...(template.metadata ?? {})};
  template.metadata.annotations = {
    ...(template.metadata.annotations ?? {}),
    [INJECTED_ANNOTATION]: version,
    ...(automountOff ? {[AUTOMOUNT_OFF_ANNOTATION]: 'true'} : {}),
  };
  return {template, appPort, appProtocol, trafficName, trafficPort};
}
