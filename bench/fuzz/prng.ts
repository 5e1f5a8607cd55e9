/**
 * A seeded pseudo-random generator (mulberry32): the same seed gives the same cases on every machine and Node
 * version, so a violation found by a long campaign is reproduced from its seed and case number alone.
 */
export interface Prng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  /** true with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Weighted pick: [weight, item] pairs. */
  weighted<T>(items: readonly (readonly [number, T])[]): T;
  bytes(n: number, alphabet?: string): Buffer;
}

export function createPrng(seed: number): Prng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: (items) => items[int(0, items.length - 1)]!,
    weighted(items) {
      const total = items.reduce((s, [w]) => s + w, 0);
      let r = next() * total;
      for (const [w, item] of items) {
        if ((r -= w) < 0) return item;
      }
      return items[items.length - 1]![1];
    },
    bytes(n, alphabet) {
      const out = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) out[i] = alphabet === undefined ? int(0, 255) : alphabet.charCodeAt(int(0, alphabet.length - 1));
      return out;
    },
  };
}

/** A 32-bit finaliser (murmur3's): nearby inputs give unrelated outputs. */
function mix(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A case's own seed from the campaign seed and its index, so any case can be regenerated alone. */
export function caseSeed(seed: number, index: number): number {
  // The seed is mixed before the index is added: campaigns with nearby seeds share no cases.
  return mix((mix(seed) + Math.imul(index + 1, 0x9e3779b9)) >>> 0);
}
