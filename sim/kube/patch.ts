// PATCH bodies: JSON Patch (RFC 6902), JSON Merge Patch (RFC 7386) and a strategic-merge approximation in which lists
// of objects are merged by their usual merge key (`type` for conditions, `name` for containers and ports, `ip` for
// addresses) instead of being replaced. Server-side apply is not served (415).
import {badRequest, unsupportedMediaType, ApiError} from './errors.js';

type Json = null | boolean | number | string | Json[] | {[k: string]: Json};

const isObject = (v: unknown): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: Record<string, Json> = isObject(target) ? {...target} : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

const MERGE_KEYS = ['type', 'name', 'containerPort', 'ip', 'port'];

function mergeKeyOf(items: Json[]): string | undefined {
  if (items.length === 0 || !items.every(isObject)) return undefined;
  return MERGE_KEYS.find((k) => items.every((i) => (i as Record<string, Json>)[k] !== undefined));
}

export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: Record<string, Json> = isObject(target) ? {...target} : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue; // directives ($patch, $retainKeys, ...) are not interpreted
    if (v === null) {
      delete out[k];
    } else if (Array.isArray(v) && Array.isArray(out[k])) {
      const current = out[k] as Json[];
      const mk = mergeKeyOf([...current, ...v]);
      if (!mk) {
        out[k] = v;
      } else {
        const merged = [...current];
        for (const item of v as Record<string, Json>[]) {
          const i = merged.findIndex((m) => (m as Record<string, Json>)[mk] === item[mk]);
          if (item.$patch === 'delete') {
            if (i >= 0) merged.splice(i, 1);
          } else if (i >= 0) {
            merged[i] = strategicMergePatch(merged[i], item);
          } else {
            merged.push(item);
          }
        }
        out[k] = merged;
      }
    } else {
      out[k] = strategicMergePatch(out[k] ?? null, v);
    }
  }
  return out;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`invalid JSON pointer ${JSON.stringify(path)}`);
  return path.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, parts: string[]): {parent: Json; last: string} {
  let cur: Json = doc;
  for (const p of parts.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isObject(cur)) cur = cur[p];
    else cur = undefined as unknown as Json;
    if (cur === undefined) throw badRequest(`the server rejected our request due to an error in our request: path ${parts.join('/')} not found`);
  }
  return {parent: cur, last: parts[parts.length - 1]};
}

function getAt(doc: Json, path: string): Json | undefined {
  let cur: Json | undefined = doc;
  for (const p of pointer(path)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isObject(cur)) cur = cur[p];
    else return undefined;
  }
  return cur;
}

function applyOp(doc: Json, op: Record<string, Json>): Json {
  const path = String(op.path ?? '');
  const parts = pointer(path);
  const set = (value: Json, insert: boolean): Json => {
    if (parts.length === 0) return value;
    const {parent, last} = parentOf(doc, parts);
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (insert) parent.splice(i, 0, value);
      else parent[i] = value;
    } else if (isObject(parent)) {
      if (!insert && !(last in parent)) throw badRequest(`replace operation does not apply: doc is missing key: ${path}`);
      parent[last] = value;
    } else {
      throw badRequest(`doc is missing path: ${path}`);
    }
    return doc;
  };
  switch (op.op) {
    case 'add':
      return set(structuredClone(op.value ?? null), true);
    case 'replace':
      return set(structuredClone(op.value ?? null), false);
    case 'remove': {
      const {parent, last} = parentOf(doc, parts);
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else if (isObject(parent) && last in parent) delete parent[last];
      else throw badRequest(`remove operation does not apply: doc is missing path: ${path}`);
      return doc;
    }
    case 'test':
      if (JSON.stringify(getAt(doc, path)) !== JSON.stringify(op.value)) throw badRequest(`testing value ${path} failed`);
      return doc;
    case 'copy':
    case 'move': {
      const value = getAt(doc, String(op.from ?? ''));
      if (value === undefined) throw badRequest(`${op.op} operation does not apply: doc is missing from path: ${op.from}`);
      if (op.op === 'move') doc = applyOp(doc, {op: 'remove', path: String(op.from)});
      return applyOp(doc, {op: 'add', path, value: structuredClone(value)});
    }
    default:
      throw badRequest(`Unexpected kind: ${String(op.op)}`);
  }
}

export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = structuredClone(target);
  for (const op of ops) {
    if (!isObject(op)) throw badRequest('invalid JSON patch operation');
    doc = applyOp(doc, op);
  }
  return doc;
}

/** Applies a PATCH body according to its Content-Type; throws 415 for types the server does not accept. */
export function applyPatch(target: unknown, body: unknown, contentType: string): unknown {
  const type = contentType.split(';')[0].trim().toLowerCase();
  try {
    if (type === 'application/json-patch+json') return jsonPatch(target as Json, body as Json);
    if (type === 'application/merge-patch+json') return mergePatch(target as Json, body as Json);
    if (type === 'application/strategic-merge-patch+json') return strategicMergePatch(target as Json, body as Json);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw badRequest(`the server rejected our request due to an error in our request: ${(err as Error).message}`);
  }
  throw unsupportedMediaType(contentType);
}
