// Rendered manifests into the simulation: an apps/v1 Deployment and its Service become a runnable definition with
// the manifest's own strategy, template, grace period and namespace; what the simulation cannot run is refused.
import {describe, it, expect} from '@jest/globals';
import {definitionFromManifests, ManifestError, type DeploymentManifest} from '../../../sim/cluster/manifests.js';
import type {Service} from '../../../sim/kube/types.js';

const deployment: DeploymentManifest = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {name: 'shop', namespace: 'prod'},
  spec: {
    replicas: 4,
    selector: {matchLabels: {app: 'shop'}},
    strategy: {type: 'RollingUpdate', rollingUpdate: {maxSurge: '50%', maxUnavailable: 0}},
    template: {
      metadata: {labels: {app: 'shop', tier: 'web'}},
      spec: {
        terminationGracePeriodSeconds: 45,
        initContainers: [{name: 'lameduck', image: 'ghcr.io/acme/lameduck:1.0.0', restartPolicy: 'Always'}],
        containers: [{name: 'app', image: 'ghcr.io/acme/lameduck-demo-app:1.0.0'}],
      },
    },
  },
};
const service: Service = {metadata: {name: 'shop'}, spec: {selector: {app: 'shop'}, ports: [{name: 'http', port: 80, targetPort: 'proxy'}]}};

describe('definition from manifests', () => {
  it('keeps the manifest\'s replicas, strategy, template and namespace', () => {
    const def = definitionFromManifests(deployment, service);
    expect(def.deployment).toMatchObject({name: 'shop', namespace: 'prod', replicas: 4, strategy: {maxSurge: '50%', maxUnavailable: 0}});
    expect(def.deployment.template.metadata.labels).toEqual({app: 'shop', tier: 'web'});
    expect(def.deployment.template.spec.terminationGracePeriodSeconds).toBe(45);
    expect(def.service.metadata.namespace).toBe('prod');
    expect(def.lameduck).toBe(true);
  });

  it('defaults like the API server: 1 replica, 25 % surge and unavailability', () => {
    const def = definitionFromManifests({...deployment, spec: {...deployment.spec, replicas: undefined, strategy: undefined}}, service);
    expect(def.deployment).toMatchObject({replicas: 1, strategy: {maxSurge: '25%', maxUnavailable: '25%'}});
  });

  it('refuses what it cannot simulate faithfully', () => {
    expect(() => definitionFromManifests({...deployment, kind: 'StatefulSet'}, service)).toThrow(ManifestError);
    expect(() => definitionFromManifests({...deployment, spec: {...deployment.spec, strategy: {type: 'Recreate'}}}, service)).toThrow(/Recreate/);
    expect(() => definitionFromManifests({...deployment, spec: {...deployment.spec, selector: {matchLabels: {app: 'other'}}}}, service)).toThrow(/selector/);
  });
});
