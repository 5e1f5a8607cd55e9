// A controller work queue with a reaction lag: a key is reconciled `lag` after the change that queued it, and changes
// that arrive while it waits are folded into that one reconcile (client-go's workqueue deduplicates the same way), so
// the reconcile always sees the latest state.

export type Lag = number | {minMs: number; maxMs: number};

export interface ReconcileQueue {
  enqueue(key: string): void;
  setLag(lag: Lag): void;
  /** Keys waiting for their reconcile. */
  pending(): number;
  /** Resolves once nothing is waiting (immediately if nothing is). */
  whenIdle(): Promise<void>;
  /** Drops every waiting key; later enqueues are ignored. */
  stop(): void;
}

export function sampleLag(lag: Lag): number {
  if (typeof lag === 'number') return Math.max(0, lag);
  const {minMs, maxMs} = lag;
  return Math.max(0, minMs + Math.random() * Math.max(0, maxMs - minMs));
}

export function createReconcileQueue(opts: {
  lag?: Lag;
  reconcile: (key: string) => void;
  onError?: (err: unknown, key: string) => void;
}): ReconcileQueue {
  let lag: Lag = opts.lag ?? 0;
  const onError = opts.onError ?? ((err: unknown, key: string) => console.error(`reconcile of ${key} failed:`, err));
  const timers = new Map<string, NodeJS.Timeout>();
  let idleWaiters: (() => void)[] = [];
  let stopped = false;

  const settleIdle = (): void => {
    if (timers.size > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };

  return {
    enqueue(key) {
      if (stopped || timers.has(key)) return;
      const t = setTimeout(() => {
        timers.delete(key);
        try {
          opts.reconcile(key);
        } catch (err) {
          onError(err, key);
        }
        settleIdle();
      }, sampleLag(lag));
      t.unref();
      timers.set(key, t);
    },
    setLag(next) {
      lag = next;
    },
    pending: () => timers.size,
    whenIdle() {
      if (timers.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    stop() {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      settleIdle();
    },
  };
}
