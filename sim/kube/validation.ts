// The subset of the API server's validation that clients of this project can trip over, with the real field paths
// and messages (k8s.io/apimachinery/pkg/util/validation), so a 422 from the simulation reads like one from a cluster.
import {invalid, type FieldCause} from './errors.js';
import type {ResourceInfo} from './resources.js';
import type {CoreEvent, EndpointSlice, KubeObject, Pod, Service} from './types.js';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function nameCauses(info: ResourceInfo, name: string | undefined, generateName: string | undefined): FieldCause[] {
  if (!name) {
    return generateName
      ? []
      : [{field: 'metadata.name', reason: 'FieldValueRequired', message: 'Required value: name or generateName is required'}];
  }
  if (info.resource === 'services') {
    if (name.length > 63 || !DNS1035_LABEL.test(name)) {
      return [{
        field: 'metadata.name',
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${name}": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
      }];
    }
    return [];
  }
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    return [{
      field: 'metadata.name',
      reason: 'FieldValueInvalid',
      message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    }];
  }
  return [];
}

function podCauses(pod: Pod): FieldCause[] {
  const containers = pod.spec?.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    return [{field: 'spec.containers', reason: 'FieldValueRequired', message: 'Required value'}];
  }
  const causes: FieldCause[] = [];
  containers.forEach((c, i) => {
    if (!c?.name) causes.push({field: `spec.containers[${i}].name`, reason: 'FieldValueRequired', message: 'Required value'});
  });
  return causes;
}

function serviceCauses(svc: Service): FieldCause[] {
  const causes: FieldCause[] = [];
  const ports = svc.spec?.ports ?? [];
  const headless = svc.spec?.clusterIP === 'None';
  if (ports.length === 0 && !headless && svc.spec?.type !== 'ExternalName') {
    causes.push({field: 'spec.ports', reason: 'FieldValueRequired', message: 'Required value'});
  }
  ports.forEach((p, i) => {
    if (typeof p.port !== 'number' || p.port < 1 || p.port > 65535) {
      causes.push({
        field: `spec.ports[${i}].port`,
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(p.port ?? 0)}: must be between 1 and 65535, inclusive`,
      });
    }
    if (ports.length > 1 && !p.name) {
      causes.push({field: `spec.ports[${i}].name`, reason: 'FieldValueRequired', message: 'Required value'});
    }
  });
  return causes;
}

function endpointSliceCauses(slice: EndpointSlice): FieldCause[] {
  const causes: FieldCause[] = [];
  if (!['IPv4', 'IPv6', 'FQDN'].includes(slice.addressType)) {
    causes.push(
      slice.addressType
        ? {field: 'addressType', reason: 'FieldValueNotSupported', message: `Unsupported value: "${slice.addressType}": supported values: "FQDN", "IPv4", "IPv6"`}
        : {field: 'addressType', reason: 'FieldValueRequired', message: 'Required value'},
    );
  }
  const endpoints = slice.endpoints ?? [];
  if (endpoints.length > 1000) {
    causes.push({field: 'endpoints', reason: 'FieldValueTooMany', message: `Too many: ${endpoints.length}: must have at most 1000 items`});
  }
  endpoints.forEach((e, i) => {
    if (!Array.isArray(e?.addresses) || e.addresses.length === 0) {
      causes.push({field: `endpoints[${i}].addresses`, reason: 'FieldValueRequired', message: 'Required value: must contain at least 1 address'});
    } else if (e.addresses.length > 100) {
      causes.push({field: `endpoints[${i}].addresses`, reason: 'FieldValueTooMany', message: `Too many: ${e.addresses.length}: must have at most 100 items`});
    }
  });
  return causes;
}

function eventCauses(ev: CoreEvent, namespace: string): FieldCause[] {
  const causes: FieldCause[] = [];
  const involved = ev.involvedObject;
  if (!involved) {
    causes.push({field: 'involvedObject', reason: 'FieldValueRequired', message: 'Required value'});
  } else if (involved.namespace && involved.namespace !== namespace) {
    causes.push({
      field: 'involvedObject.namespace',
      reason: 'FieldValueInvalid',
      message: `Invalid value: "${involved.namespace}": does not match event.namespace`,
    });
  }
  if (ev.type && ev.type !== 'Normal' && ev.type !== 'Warning') {
    causes.push({field: 'type', reason: 'FieldValueNotSupported', message: `Unsupported value: "${ev.type}": supported values: "Normal", "Warning"`});
  }
  return causes;
}

/** Throws a 422 Invalid ApiError when `obj` would be rejected by a real API server on create or update. */
export function validate(info: ResourceInfo, obj: KubeObject): void {
  const meta = obj.metadata ?? {};
  const causes = [...nameCauses(info, meta.name, meta.generateName)];
  if (info.resource === 'pods') causes.push(...podCauses(obj as Pod));
  if (info.resource === 'services') causes.push(...serviceCauses(obj as Service));
  if (info.resource === 'endpointslices') causes.push(...endpointSliceCauses(obj as EndpointSlice));
  if (info.resource === 'events') causes.push(...eventCauses(obj as CoreEvent, meta.namespace ?? ''));
  if (causes.length > 0) throw invalid(info, meta.name ?? meta.generateName ?? '', causes);
}
