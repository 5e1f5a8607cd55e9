/**
 * What the simulated node saw, in time order: kubelet's actions on each pod (`scheduled`, `ready`, `terminating`,
 * `prestop-start`, `sigterm`, `sigkill`, `container-exited`, `removed`, ...) and every line the containers wrote.
 * The scenario runner turns this into per-pod phases for the timeline (lameduck's own `phase` log lines included).
 */

export interface PodEvent {
  /** Epoch ms. */
  at: number;
  pod: string;
  container?: string;
  type: string;
  detail?: Record<string, unknown>;
}

export interface ContainerLogLine {
  at: number;
  pod: string;
  container: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface PodRecorder {
  event(e: PodEvent): void;
  log(l: ContainerLogLine): void;
  readonly events: readonly PodEvent[];
  readonly logs: readonly ContainerLogLine[];
  /** The lines of one pod's container that parse as JSON objects, with their arrival time. */
  jsonLogs(pod: string, container?: string): {at: number; container: string; entry: Record<string, unknown>}[];
}

export interface PodRecorderOptions {
  /** Lines kept per pod beyond which older ones are dropped (a runaway container must not eat the memory). Default 5000. */
  maxLinesPerPod?: number;
  /** Also receives every event and line as it happens (progress displays, debugging). */
  onEvent?: (e: PodEvent) => void;
  onLog?: (l: ContainerLogLine) => void;
}

export function createPodRecorder(opts: PodRecorderOptions = {}): PodRecorder {
  const maxLines = opts.maxLinesPerPod ?? 5000;
  const events: PodEvent[] = [];
  const logs: ContainerLogLine[] = [];
  const perPod = new Map<string, number>();
  return {
    events,
    logs,
    event(e) {
      events.push(e);
      opts.onEvent?.(e);
    },
    log(l) {
      const n = (perPod.get(l.pod) ?? 0) + 1;
      perPod.set(l.pod, n);
      if (n <= maxLines) logs.push(l);
      opts.onLog?.(l);
    },
    jsonLogs(pod, container) {
      const out: {at: number; container: string; entry: Record<string, unknown>}[] = [];
      for (const l of logs) {
        if (l.pod !== pod || (container !== undefined && l.container !== container) || !l.line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(l.line) as unknown;
          if (entry && typeof entry === 'object' && !Array.isArray(entry)) out.push({at: l.at, container: l.container, entry: entry as Record<string, unknown>});
        } catch {
          // not JSON: plain output
        }
      }
      return out;
    },
  };
}
