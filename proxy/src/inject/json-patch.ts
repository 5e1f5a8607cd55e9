/**
 * The difference between two JSON values as RFC 6902 operations: what the webhook answers, and what the CLI applies
 * to the YAML documents (so that everything it did not change — order, comments, formatting — stays).
 * Objects are compared key by key; arrays element by element, with `add`s for what was appended (a container changed
 * in place, a sidecar added); an array that shrank is replaced whole.
 */
import type {Path} from './workloads.js';

export type PatchOp = {op: 'add' | 'replace'; path: Path; value: unknown} | {op: 'remove'; path: Path};

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

export function diff(before: unknown, after: unknown, path: Path = []): PatchOp[] {
  if (deepEqual(before, after)) return [];
  if (isObject(before) && isObject(after)) {
    const ops: PatchOp[] = [];
    for (const k of Object.keys(before)) if (!(k in after)) ops.push({op: 'remove', path: [...path, k]});
    for (const [k, v] of Object.entries(after)) {
      if (!(k in before)) ops.push({op: 'add', path: [...path, k], value: v});
      else ops.push(...diff(before[k], v, [...path, k]));
    }
    return ops;
  }
  if (Array.isArray(before) && Array.isArray(after) && after.length >= before.length) {
    // Element by element (a container changed in place), then what was appended.
    return [
      ...before.flatMap((v, i) => diff(v, after[i], [...path, i])),
      ...after.slice(before.length).map((value, i) => ({op: 'add' as const, path: [...path, before.length + i], value})),
    ];
  }
  return [{op: 'replace', path, value: after}];
}

/** RFC 6901 pointer of a path (`~` and `/` escaped). */
export function pointer(path: Path): string {
  return path.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** The ops in RFC 6902 form, with every path below `prefix`. */
export function toJsonPatch(ops: readonly PatchOp[], prefix: Path = []): object[] {
  return ops.map((o) => (o.op === 'remove' ? {op: 'remove', path: pointer([...prefix, ...o.path])} : {op: o.op, path: pointer([...prefix, ...o.path]), value: o.value}));
}
