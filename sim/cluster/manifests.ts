/**
 * Real manifests into the simulation: an apps/v1 Deployment and a core/v1 Service (e.g. what `helm template` rendered)
 * become a scenario definition that `runScenario({scenario: 'custom', definition})` rolls. Images map to local
 * commands (images.ts), and env, ports, probes, lifecycle hooks and the grace period come from the manifest as is.
 */
import type {Service} from '../kube/types.js';
import type {PodTemplate} from './deployment-controller.js';
import type {ScenarioDefinition} from './scenarios.js';

export interface DeploymentManifest {
  apiVersion?: string;
  kind?: string;
  metadata: {name?: string; namespace?: string};
  spec: {
    replicas?: number;
    selector?: {matchLabels?: Record<string, string>};
    strategy?: {type?: string; rollingUpdate?: {maxSurge?: number | string; maxUnavailable?: number | string}};
    template: {metadata?: {labels?: Record<string, string>; annotations?: Record<string, string>}; spec: PodTemplate['spec']};
  };
}

export class ManifestError extends Error {
  readonly code = 'MANIFEST_UNSUPPORTED';
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

export function definitionFromManifests(deployment: DeploymentManifest, service: Service, opts: {name?: string; description?: string; denyApi?: boolean} = {}): ScenarioDefinition {
  if (deployment.kind !== undefined && deployment.kind !== 'Deployment') throw new ManifestError(`expected a Deployment, got ${deployment.kind}`);
  const spec = deployment.spec;
  if (spec.strategy?.type === 'Recreate') throw new ManifestError('the Recreate strategy is not simulated (RollingUpdate only)');
  const labels = spec.template.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(spec.selector?.matchLabels ?? {})) {
    if (labels[k] !== v) throw new ManifestError(`selector ${k}=${v} does not match the pod template's labels`);
  }
  const namespace = deployment.metadata.namespace ?? service.metadata.namespace ?? 'default';
  return {
    name: opts.name ?? deployment.metadata.name ?? 'custom',
    description: opts.description ?? `Deployment ${deployment.metadata.name ?? ''} behind Service ${service.metadata.name ?? ''}`,
    lameduck: [...(spec.template.spec.initContainers ?? []), ...spec.template.spec.containers].some((c) => /lameduck(?!-demo)/.test(c.image ?? '')),
    denyApi: opts.denyApi ?? false,
    terminationFigure: false,
    deployment: {
      name: deployment.metadata.name ?? 'web',
      namespace,
      replicas: spec.replicas ?? 1,
      // The controller selects by every template label; extra labels on the template are harmless here.
      template: {metadata: {labels, ...(spec.template.metadata?.annotations ? {annotations: spec.template.metadata.annotations} : {})}, spec: spec.template.spec},
      strategy: {maxSurge: spec.strategy?.rollingUpdate?.maxSurge ?? '25%', maxUnavailable: spec.strategy?.rollingUpdate?.maxUnavailable ?? '25%'},
    },
    service: {...service, metadata: {...service.metadata, namespace}},
  };
}
