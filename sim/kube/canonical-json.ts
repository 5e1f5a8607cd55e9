// Structural equality of JSON values regardless of key order: etcd compares canonical encodings, so a write that only
// reorders keys is no change, and the controllers use the same test to decide whether a write is needed at all.

/** JSON with object keys sorted. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}

export function sameJson(a: unknown, b: unknown): boolean {
  // Fast path: objects copied from one another keep their key order.
  return JSON.stringify(a) === JSON.stringify(b) || canonicalJson(a) === canonicalJson(b);
}
