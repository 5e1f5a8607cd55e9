// What the *-fixture.ts helpers (helm, kube API server, kubelet) share: a resource that lives for one test file or
// describe block, created before its tests and released after them.
import {afterAll, beforeAll} from '@jest/globals';

/**
 * Registers `create` with jest's beforeAll and `release` with afterAll (called with undefined when `create` failed or
 * never ran, so what else it releases still goes). Returns a getter for the resource, which throws when called
 * before beforeAll ran (at module load): it is for tests and hooks.
 */
export function useSuiteResource<T>(what: string, create: () => Promise<T> | T, release: (resource: T | undefined) => Promise<void>, timeoutMs?: number): () => T {
  let resource: T | undefined;
  beforeAll(async () => {
    resource = await create();
  }, timeoutMs);
  afterAll(async () => {
    await release(resource);
  });
  return () => {
    if (resource === undefined) throw new Error(`${what} is not ready: use it inside a test or a hook`);
    return resource;
  };
}
