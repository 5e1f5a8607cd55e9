/**
 * Takes out what an earlier injection added (a template marked `lameduck.io/injected`), so that injecting again
 * yields exactly what one injection yields: the sidecar container, lameduck's preStop on the app, the projected token
 * volume, the marker, and the app's API token switched off by injection. What it leaves: the app port's name stays with lameduck (remembered in `previous`, so the
 * re-injection gives it back to lameduck), app probes that now use the port number (equivalent), and a grace period
 * that was raised (re-injection raises it again only if needed).
 */
import {AUTOMOUNT_OFF_ANNOTATION, INJECTED_ANNOTATION, type InjectSettings} from './settings.js';
import {tokenVolumeName} from './sidecar-container.js';
import type {Container, PodTemplate} from './types.js';

export interface Stripped {
  template: PodTemplate;
  /** What the earlier injection had chosen; undefined when the template was not injected. */
  previous?: {trafficName: string; appPort: number};
}

function upstreamPort(sidecar: Container): number | undefined {
  const upstream = sidecar.env?.find((e) => e.name === 'LAMEDUCK_UPSTREAM')?.value;
  const m = upstream ? /:(\d+)\/?$/.exec(upstream) : null;
  return m ? Number(m[1]) : undefined;
}

/** Changes `template` in place (the caller passes a copy). */
export function stripInjection(template: PodTemplate, s: Readonly<InjectSettings>): Stripped {
  const annotations = template.metadata?.annotations;
  if (!annotations || !(INJECTED_ANNOTATION in annotations) || !template.spec) return {template};
  const spec = template.spec;
  const isSidecar = (c: Container) => c.name === s.containerName;
  const sidecar = [...(spec.initContainers ?? []), ...(spec.containers ?? [])].find(isSidecar);
  delete annotations[INJECTED_ANNOTATION];
  if (annotations[AUTOMOUNT_OFF_ANNOTATION] !== undefined) {
    delete annotations[AUTOMOUNT_OFF_ANNOTATION];
    delete spec.automountServiceAccountToken;
  }
  if (Object.keys(annotations).length === 0) delete template.metadata!.annotations;
  if (!sidecar) return {template};
  if (spec.initContainers) {
    spec.initContainers = spec.initContainers.filter((c) => !isSidecar(c));
    if (spec.initContainers.length === 0) delete spec.initContainers;
  }
  spec.containers = (spec.containers ?? []).filter((c) => !isSidecar(c));
  const admin = sidecar.ports?.find((p) => p.name !== sidecar.ports?.[0]?.name)?.containerPort;
  spec.containers = spec.containers.map((c) => {
    const get = c.lifecycle?.preStop?.httpGet;
    if (!get || get.path !== '/prestop' || get.port !== admin || Object.keys(c.lifecycle!.preStop!).length !== 1) return c;
    const {preStop: _ours, ...lifecycle} = c.lifecycle!;
    const next = {...c, lifecycle};
    if (Object.keys(lifecycle).length === 0) delete (next as Partial<Container>).lifecycle;
    return next;
  });
  if (spec.volumes) {
    spec.volumes = spec.volumes.filter((v) => v.name !== tokenVolumeName(s));
    if (spec.volumes.length === 0) delete spec.volumes;
  }
  const trafficName = sidecar.ports?.[0]?.name;
  const appPort = upstreamPort(sidecar);
  return {template, ...(trafficName && appPort ? {previous: {trafficName, appPort}} : {})};
}

/**
 * Takes lameduck out of a template that opted out after it was injected: strip, then the app's port gets its name back
 * (Services that target it by name reach the app again). The app's probes keep the port number (equivalent).
 */
export function uninject(template: PodTemplate, s: Readonly<InjectSettings>): PodTemplate {
  const {template: out, previous} = stripInjection(template, s);
  if (!previous || previous.trafficName === s.trafficName || !out.spec?.containers) return out;
  out.spec.containers = out.spec.containers.map((c) => {
    const i = (c.ports ?? []).findIndex((p) => p.containerPort === previous.appPort && p.name === undefined);
    if (i < 0) return c;
    const ports = [...c.ports!];
    ports[i] = {name: previous.trafficName, ...ports[i]!};
    return {...c, ports};
  });
  return out;
}
