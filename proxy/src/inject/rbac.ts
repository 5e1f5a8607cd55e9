/**
 * `lameduck inject --rbac`: the Role and RoleBinding the sidecar needs, one pair per ServiceAccount and namespace,
 * with the library chart's rules (charts/lameduck/templates/_rbac.tpl; docs/design.md, "Kubernetes API use"). Bound
 * to the pod's own ServiceAccount: replacing it would take from the app what that account grants.
 */
import type {KubeObject} from './types.js';

export interface RbacSubject {
  /** The workload's namespace; undefined when the manifest leaves it to the installer (helm's release namespace). */
  namespace?: string;
  serviceAccount: string;
  watchPod: boolean;
}

export function rbacName(serviceAccount: string): string {
  return `lameduck-${serviceAccount}`.slice(0, 63).replace(/-+$/, '');
}

const LABELS = {'app.kubernetes.io/name': 'lameduck', 'app.kubernetes.io/component': 'graceful-shutdown', 'app.kubernetes.io/managed-by': 'lameduck-inject'};

/**
 * One Role + RoleBinding per (namespace, ServiceAccount). A workload without a namespace (helm installs it into the
 * release namespace) gets a binding without one and a subject without one: RBAC reads a ServiceAccount subject
 * without namespace as the binding's own (k8s.io/kubernetes pkg/registry/rbac/validation, appliesToUser).
 */
export function rbacObjects(subjects: readonly RbacSubject[], defaultNamespace?: string): KubeObject[] {
  const merged = new Map<string, RbacSubject>();
  for (const s of subjects) {
    const key = `${s.namespace ?? ''}/${s.serviceAccount}`;
    const prev = merged.get(key);
    merged.set(key, {...s, watchPod: s.watchPod || (prev?.watchPod ?? false)});
  }
  const out: KubeObject[] = [];
  for (const s of merged.values()) {
    const name = rbacName(s.serviceAccount);
    const namespace = s.namespace ?? defaultNamespace;
    const metadata = {name, ...(namespace ? {namespace} : {}), labels: {...LABELS}};
    out.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata,
      rules: [
        {apiGroups: [''], resources: ['pods'], verbs: s.watchPod ? ['get', 'list', 'watch'] : ['get']},
        {apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch']},
        {apiGroups: [''], resources: ['services'], verbs: ['get']},
        {apiGroups: [''], resources: ['events'], verbs: ['create']},
      ],
    });
    out.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: structuredClone(metadata),
      roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name},
      subjects: [{kind: 'ServiceAccount', name: s.serviceAccount, ...((s.namespace ?? defaultNamespace) ? {namespace: s.namespace ?? defaultNamespace} : {})}],
    });
  }
  return out;
}
