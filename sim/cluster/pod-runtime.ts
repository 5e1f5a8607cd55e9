/**
 * One pod on the simulated node, run like kubelet runs it: real processes on the pod's own loopback IP, probes that
 * write the pod's Ready condition to the API, and termination in kubelet's exact order.
 *
 * Start (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/, KEP-753 sidecar containers):
 * - init containers in order; a native sidecar (`initContainers[]` with `restartPolicy: Always`) is started and the
 *   next container only starts once its startup probe passed (or, without one, once it runs) — so the app starts
 *   after the sidecar is up; a regular init container must exit 0 first;
 * - then every main container at once; startup probes gate readiness probes; the pod is Ready when every container
 *   (sidecars included) is ready. A container that exits while the pod is not terminating is restarted
 *   (restartPolicy Always) after a short back-off (1 s doubling to 8 s here, 10 s to 5 min in kubelet — see docs/demo.md).
 *
 * Termination (deletionTimestamp seen, or an eviction by the kubelet itself), as kubelet's killContainer
 * (pkg/kubelet/kuberuntime/kuberuntime_container.go) does it, in whole seconds:
 * - every container is killed at once: every preStop hook starts at the same moment, a native sidecar's included;
 *   a hook is waited for until it returns or the grace period ends, even if its container exits meanwhile; the
 *   seconds it took (truncated) come off the grace period, and the rest (at least 2 s, minimumGracePeriodInSeconds)
 *   is the container's time between SIGTERM and SIGKILL;
 * - a native sidecar's SIGTERM waits for its turn: every main container and every sidecar declared after it exited
 *   (terminationOrdering), or the rest of the grace period; that wait (truncated) comes off its grace period too;
 * - readiness probes keep running until a container exits (KEP-1669 needs `serving` of terminating pods);
 * - when every container exited: the terminal phase is written, and a deleted pod is removed (the final grace-0
 *   delete), which is what takes its endpoint out of the EndpointSlices.
 */
import type {Store} from '../kube/store.js';
import type {Container, ContainerStatus, Pod, PodStatus} from '../kube/types.js';
import {getCondition, setCondition} from '../kube/pod-status.js';
import {kubeTime} from '../kube/time.js';
import {startContainerProcess, type ContainerExit, type ContainerProcess} from './container-process.js';
import type {ImageMap} from './images.js';
import {runHook, type LifecycleHandler} from './lifecycle-hook.js';
import {containerEnv, expandArgv, type EnvVar, type SecretData} from './pod-env.js';
import {startProber, type Prober, type ProbeSpec} from './probe.js';
import type {PodRecorder} from './pod-recorder.js';

/** kubelet's minimumGracePeriodInSeconds: the least time between SIGTERM and SIGKILL after a hook ate the grace. */
export const MIN_GRACE_AFTER_HOOK_MS = 2000;

type Role = 'init' | 'sidecar' | 'main';

interface SpecContainer extends Container {
  env?: EnvVar[];
  command?: string[];
  args?: string[];
  readinessProbe?: ProbeSpec;
  startupProbe?: ProbeSpec;
  lifecycle?: {preStop?: LifecycleHandler; postStart?: LifecycleHandler};
  volumeMounts?: {name: string; mountPath: string}[];
}

/** Where the service-account token is mounted (automount, or a projected token volume for one container). */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface ContainerState {
  spec: SpecContainer;
  role: Role;
  process?: ContainerProcess;
  startupProber?: Prober;
  readinessProber?: Prober;
  /** Startup probe passed (or none). */
  started: boolean;
  ready: boolean;
  restartCount: number;
  lastExit?: ContainerExit & {startedAt: number};
  /** Set while a restart back-off timer runs. */
  restartTimer?: NodeJS.Timeout;
  backoffMs: number;
  /** Resolves when the current process exits; replaced on restart. */
  env?: Record<string, string>;
}

export type TerminationCause = 'deleted' | 'evicted' | 'force-deleted' | 'killed';

export interface PodRuntime {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  /** Starts the containers (resolves once the start sequence has been launched, not when ready). */
  start(): Promise<void>;
  /** Begins graceful termination once; later calls return the same promise. Resolves when every container exited. */
  terminate(cause: TerminationCause, gracePeriodMs: number): Promise<void>;
  /** The pod object is gone (force delete): terminate with kubelet's 1 s minimum grace (see forceDelete below). */
  forceDelete(): Promise<void>;
  /** SIGKILLs every container now (teardown). */
  kill(): Promise<void>;
  /** PIDs (process groups) of the running containers. */
  pids(): number[];
  readonly terminating: boolean;
  readonly finished: boolean;
}

export interface PodRuntimeDeps {
  store: Store;
  images: ImageMap;
  recorder: PodRecorder;
  podIp: string;
  hostIp: string;
  /** Variables every container gets first (PATH, KUBECONFIG, ...). */
  baseEnv: Readonly<Record<string, string>>;
  /** First restart back-off; doubles up to 8x. Default 1000. */
  restartBackoffMs?: number;
  /**
   * The service-account mount's stand-in, given as KUBECONFIG to a container that mounts a volume of its own at the
   * service-account path (a projected token, when the pod does not automount one).
   */
  projectedKubeconfig?: string;
  /** Secrets by name, then key: what `valueFrom.secretKeyRef` reads. */
  secrets?: SecretData;
}

export function createPodRuntime(initial: Pod, deps: PodRuntimeDeps): PodRuntime {
  const {store, recorder, podIp} = deps;
  const namespace = initial.metadata.namespace ?? 'default';
  const name = initial.metadata.name ?? '';
  const uid = initial.metadata.uid;
  const firstBackoff = deps.restartBackoffMs ?? 1000;
  const mk = (spec: Container, role: Role): ContainerState => ({
    spec: spec as SpecContainer,
    role,
    started: false,
    ready: false,
    restartCount: 0,
    backoffMs: firstBackoff,
  });
  const initContainers = (initial.spec.initContainers ?? []).map((c) => mk(c, c.restartPolicy === 'Always' ? 'sidecar' : 'init'));
  const mainContainers = initial.spec.containers.map((c) => mk(c, 'main'));
  const all = [...initContainers, ...mainContainers];
  let initialized = false;
  let terminating = false;
  let finished = false;
  let killedAll = false;
  let termination: Promise<void> | undefined;
  let terminalPhase: 'Succeeded' | 'Failed' | undefined;
  let terminalReason: string | undefined;
  const startTime = Date.now();

  const record = (type: string, detail?: Record<string, unknown>, container?: string): void =>
    recorder.event({at: Date.now(), pod: name, type, container, detail});

  /** The pod as the API has it now (with the IP we gave it), for env resolution. */
  function currentPod(): Pod {
    return store.getPod(namespace, name) ?? initial;
  }

  function containerReady(c: ContainerState): boolean {
    if (!c.process?.running || !c.started) return false;
    if (c.role === 'init') return false;
    if (!c.spec.readinessProbe) return true;
    return c.readinessProber?.result === true;
  }

  function podReady(): boolean {
    return initialized && [...initContainers.filter((c) => c.role === 'sidecar'), ...mainContainers].every((c) => c.ready);
  }

  function containerStatus(c: ContainerState): ContainerStatus {
    const status: ContainerStatus = {
      name: c.spec.name,
      image: c.spec.image,
      imageID: '',
      ready: c.ready,
      restartCount: c.restartCount,
      started: c.process?.running === true && c.started,
      state: {},
    };
    if (c.process?.running) {
      status.containerID = `sim://${c.process.pid}`;
      status.state = {running: {startedAt: kubeTime(c.process.startedAt)}};
    } else if (c.lastExit && !c.restartTimer) {
      status.state = {
        terminated: {
          exitCode: c.lastExit.exitCode,
          reason: c.lastExit.exitCode === 0 ? 'Completed' : 'Error',
          ...(c.lastExit.signal ? {signal: c.lastExit.exitCode - 128} : {}),
          startedAt: kubeTime(c.lastExit.startedAt),
          finishedAt: kubeTime(c.lastExit.at),
        },
      };
    } else {
      status.state = {waiting: {reason: c.restartTimer ? 'CrashLoopBackOff' : 'PodInitializing'}};
    }
    if (c.lastExit && (c.process?.running || c.restartTimer)) {
      status.lastState = {terminated: {exitCode: c.lastExit.exitCode, startedAt: kubeTime(c.lastExit.startedAt), finishedAt: kubeTime(c.lastExit.at)}};
    }
    return status;
  }

  let lastWritten = '';
  /** Recomputes the whole status from the runtime and writes it if anything changed. */
  function writeStatus(): void {
    if (killedAll && finished) return;
    const ready = podReady();
    const initDone = initialized;
    const running = mainContainers.some((c) => c.process?.running);
    const phase = terminalPhase ?? (running || initDone ? 'Running' : 'Pending');
    const signature = JSON.stringify([phase, ready, initDone, terminalReason, all.map((c) => [c.ready, c.started, c.process?.pid, c.process?.running, c.restartCount, c.lastExit?.exitCode, !!c.restartTimer])]);
    if (signature === lastWritten) return;
    lastWritten = signature;
    try {
      store.patchPodStatus(namespace, name, (status: PodStatus, pod: Pod) => {
        if (uid && pod.metadata.uid !== uid) return; // a new pod with the same name: not ours
        status.phase = phase;
        status.podIP = podIp;
        status.podIPs = [{ip: podIp}];
        status.hostIP = deps.hostIp;
        status.hostIPs = [{ip: deps.hostIp}];
        status.startTime ??= kubeTime(startTime);
        setCondition(status, 'PodReadyToStartContainers', 'True');
        setCondition(status, 'Initialized', initDone ? 'True' : 'False', initDone ? {} : {reason: 'ContainersNotInitialized'});
        setCondition(status, 'ContainersReady', ready ? 'True' : 'False', ready ? {} : {reason: 'ContainersNotReady'});
        setCondition(status, 'Ready', ready ? 'True' : 'False', ready ? {} : {reason: 'ContainersNotReady'});
        setCondition(status, 'PodScheduled', 'True');
        for (const c of status.conditions ?? []) {
          if ((c.type === 'Ready' || c.type === 'ContainersReady' || c.type === 'Initialized') && c.status === 'True') {
            delete c.reason;
            delete c.message;
          }
        }
        if (terminalReason) status.reason = terminalReason;
        if (initContainers.length > 0) status.initContainerStatuses = initContainers.map(containerStatus);
        status.containerStatuses = mainContainers.map(containerStatus);
      });
    } catch {
      // The pod is gone (force delete, or our own final removal raced): nothing left to report.
    }
  }

  function updateReadiness(c: ContainerState): void {
    const before = c.ready;
    c.ready = containerReady(c);
    if (before !== c.ready) record(c.ready ? 'container-ready' : 'container-not-ready', undefined, c.spec.name);
    const wasReady = lastPodReady;
    lastPodReady = podReady();
    if (wasReady !== lastPodReady) record(lastPodReady ? 'ready' : 'not-ready');
    writeStatus();
  }
  let lastPodReady = false;

  function startProbes(c: ContainerState, onStarted: () => void): void {
    const target = {podIp, ports: c.spec.ports};
    const beginReadiness = (): void => {
      c.started = true;
      record('container-started', undefined, c.spec.name);
      onStarted();
      if (c.spec.readinessProbe) {
        c.readinessProber = startProber({
          spec: c.spec.readinessProbe,
          target,
          onChange: () => updateReadiness(c),
          onError: (err) => record('probe-error', {probe: 'readiness', error: err.message}, c.spec.name),
        });
      }
      updateReadiness(c);
    };
    if (c.spec.startupProbe) {
      let failures = 0;
      const failureThreshold = c.spec.startupProbe.failureThreshold ?? 3;
      c.startupProber = startProber({
        spec: {...c.spec.startupProbe, failureThreshold: 1},
        target,
        onProbe: (ok) => {
          if (ok) return;
          failures++;
          // kubelet restarts a container whose startup probe failed failureThreshold times in a row.
          if (failures >= failureThreshold && !terminating) {
            record('startup-probe-failed', {failures}, c.spec.name);
            c.startupProber?.stop();
            c.process?.signal('SIGKILL');
          }
        },
        onChange: (ok) => {
          if (!ok) return;
          c.startupProber?.stop();
          c.startupProber = undefined;
          beginReadiness();
        },
        onError: (err) => record('probe-error', {probe: 'startup', error: err.message}, c.spec.name),
      });
    } else {
      beginReadiness();
    }
  }

  function stopProbes(c: ContainerState): void {
    c.startupProber?.stop();
    c.readinessProber?.stop();
    c.startupProber = undefined;
    c.readinessProber = undefined;
  }

  /** Spawns the container; `onStarted` fires once its startup probe passed (sidecar ordering). */
  function launch(c: ContainerState, onStarted: () => void = () => {}): void {
    const pod = currentPod();
    let env: Record<string, string>;
    let argv: string[];
    let cwd: string;
    try {
      const image = deps.images.resolve(c.spec.image ?? '', undefined, undefined);
      const mountsToken = (c.spec.volumeMounts ?? []).some((m) => m.mountPath === SERVICE_ACCOUNT_DIR);
      const base = deps.projectedKubeconfig && mountsToken ? {...deps.baseEnv, KUBECONFIG: deps.projectedKubeconfig} : deps.baseEnv;
      env = containerEnv({pod, env: c.spec.env, imageEnv: image.env, base, secrets: deps.secrets});
      const resolved = deps.images.resolve(c.spec.image ?? '', expandArgv(c.spec.command, env), expandArgv(c.spec.args, env));
      argv = resolved.argv;
      cwd = resolved.cwd;
    } catch (err) {
      record('container-create-failed', {error: (err as Error).message}, c.spec.name);
      c.lastExit = {exitCode: 128, signal: null, at: Date.now(), startedAt: Date.now()};
      scheduleRestart(c, onStarted);
      writeStatus();
      return;
    }
    c.env = env;
    c.started = false;
    const proc = startContainerProcess({
      argv,
      cwd,
      env,
      onLine: (stream, line, at) => recorder.log({at, pod: name, container: c.spec.name, stream, line}),
    });
    c.process = proc;
    record('container-process-started', {pid: proc.pid}, c.spec.name);
    writeStatus();
    void proc.exited.then((exit) => onExit(c, proc, exit, onStarted));
    if (c.role === 'init') return; // run to completion; probes do not apply
    startProbes(c, onStarted);
  }

  function scheduleRestart(c: ContainerState, onStarted: () => void): void {
    if (terminating || killedAll) return;
    const delay = c.backoffMs;
    c.backoffMs = Math.min(c.backoffMs * 2, firstBackoff * 8);
    c.restartTimer = setTimeout(() => {
      c.restartTimer = undefined;
      if (terminating || killedAll) return;
      c.restartCount++;
      record('container-restart', {restartCount: c.restartCount}, c.spec.name);
      launch(c, onStarted);
    }, delay);
  }

  function onExit(c: ContainerState, proc: ContainerProcess, exit: ContainerExit, onStarted: () => void): void {
    if (c.process !== proc) return;
    stopProbes(c);
    c.lastExit = {...exit, startedAt: proc.startedAt};
    record('container-exited', {exitCode: exit.exitCode, signal: exit.signal}, c.spec.name);
    updateReadiness(c);
    if (c.role === 'init' && exit.exitCode === 0) {
      onStarted();
      return;
    }
    // Restart policy Always (main containers of a Deployment's pods, and every native sidecar); a failed regular
    // init container is retried too (OnFailure semantics for init containers).
    scheduleRestart(c, onStarted);
    writeStatus();
  }

  async function startSequence(): Promise<void> {
    record('scheduled', {ip: podIp});
    writeStatus();
    for (const c of initContainers) {
      if (terminating || killedAll) return;
      await new Promise<void>((resolve) => {
        let once = false;
        launch(c, () => {
          if (once) return;
          once = true;
          resolve();
        });
        // Termination while waiting for a sidecar's startup probe ends the wait.
        void termGate.then(() => resolve());
      });
    }
    if (terminating || killedAll) return;
    initialized = true;
    record('initialized');
    for (const c of mainContainers) launch(c);
    writeStatus();
  }

  let openTermGate!: () => void;
  const termGate = new Promise<void>((resolve) => (openTermGate = resolve));


  /**
   * kubelet's killContainer (pkg/kubelet/kuberuntime/kuberuntime_container.go) for one container, in whole seconds as
   * kubelet counts them: the preStop hook gets the whole grace period and is waited for until it returns or the grace
   * period ends — even when the container exits meanwhile (executePreStopHook selects only on the hook and the
   * timer); the seconds it took, truncated, come off the grace period. A native sidecar then waits for its turn
   * (every main container and every later sidecar exited, or the rest of the grace period; truncated again). What
   * is left is the SIGTERM → SIGKILL window, at least 2 s (minimumGracePeriodInSeconds).
   */
  async function stopContainer(c: ContainerState, graceSeconds: number, waitForTurn?: (limitMs: number) => Promise<void>): Promise<void> {
    clearTimeout(c.restartTimer);
    c.restartTimer = undefined;
    const proc = c.process;
    // kubelet kills the containers the runtime reports running; an exited one has nothing left to stop.
    if (!proc?.running) return;
    let grace = graceSeconds;
    const hook = c.spec.lifecycle?.preStop;
    if (hook && grace > 0) {
      const hookStart = Date.now();
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), grace * 1000);
      record('prestop-start', {kind: Object.keys(hook)[0]}, c.spec.name);
      const result = await runHook(hook, {podIp, ports: c.spec.ports, env: c.env ?? {}, cwd: process.cwd(), signal: abort.signal});
      clearTimeout(timer);
      abort.abort();
      const ms = Date.now() - hookStart;
      record('prestop-end', {...result, ms}, c.spec.name);
      grace -= Math.floor(ms / 1000);
    }
    if (waitForTurn && grace > 0) {
      const waitStart = Date.now();
      await waitForTurn(grace * 1000);
      grace -= Math.floor((Date.now() - waitStart) / 1000);
    }
    const killAfterMs = Math.max(MIN_GRACE_AFTER_HOOK_MS / 1000, grace) * 1000;
    if (proc.running) {
      record('sigterm', {killAfterMs}, c.spec.name);
      proc.signal('SIGTERM');
    }
    const killTimer = setTimeout(() => {
      if (!proc.running) return;
      record('sigkill', undefined, c.spec.name);
      void proc.kill();
    }, killAfterMs);
    await proc.exited;
    clearTimeout(killTimer);
  }

  async function terminateSequence(cause: TerminationCause, gracePeriodMs: number): Promise<void> {
    const t0 = Date.now();
    // The pod worker's effective grace period: whole seconds, never below 1 (pod_workers.go,
    // calculateEffectiveGracePeriod: "no matter what, we always supply a grace period of 1").
    const graceSeconds = Math.max(1, Math.ceil(gracePeriodMs / 1000));
    record('terminating', {cause, gracePeriodMs: graceSeconds * 1000});
    for (const c of all) c.startupProber?.stop();
    // Regular init containers still running are simply stopped, without hooks.
    await Promise.all(initContainers.filter((c) => c.role === 'init').map(async (c) => {
      if (c.process?.running) await c.process.kill();
    }));
    // Every container is killed at once (killContainersWithSyncResult: one goroutine each), so every preStop hook —
    // a native sidecar's included — starts now. Only a sidecar's SIGTERM waits for its turn (terminationOrdering):
    // after every main container and every sidecar declared after it exited.
    const exited = new Map<ContainerState, Promise<void>>();
    for (const c of all) exited.set(c, c.process?.running ? c.process.exited.then(() => undefined) : Promise.resolve());
    const sidecars = initContainers.filter((c) => c.role === 'sidecar');
    const turnOf = (c: ContainerState): ((limitMs: number) => Promise<void>) => {
      const before = [...mainContainers, ...sidecars.slice(sidecars.indexOf(c) + 1)].map((x) => exited.get(x)!);
      return (limitMs) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, limitMs);
          void Promise.all(before).then(() => {
            clearTimeout(timer);
            resolve();
          });
        });
    };
    const mainDone = Promise.all(mainContainers.map((c) => stopContainer(c, graceSeconds))).then(() => record('main-containers-exited'));
    await Promise.all([mainDone, ...sidecars.map((c) => stopContainer(c, graceSeconds, turnOf(c)))]);
    for (const c of all) {
      stopProbes(c);
      clearTimeout(c.restartTimer);
      c.restartTimer = undefined;
    }
    const failed = all.some((c) => c.role !== 'init' && (c.lastExit?.exitCode ?? 0) !== 0);
    terminalPhase = cause === 'evicted' || failed ? 'Failed' : 'Succeeded';
    if (cause === 'evicted') terminalReason = 'Evicted';
    for (const c of all) c.ready = false;
    writeStatus();
    finished = true;
    record('terminated', {phase: terminalPhase, ms: Date.now() - t0});
    if (cause === 'deleted') {
      // The final grace-0 delete kubelet issues once the containers are gone: only now the endpoint goes away.
      try {
        const pod = store.getPod(namespace, name);
        if (pod && (!uid || pod.metadata.uid === uid)) store.removePod(namespace, name);
      } catch {
        // already removed
      }
      record('removed');
    }
  }

  /**
   * The pod object was removed (force delete) while its containers run. The pod worker still terminates it with a
   * grace period of at least 1 s: the hooks get that second, SIGKILL follows 2 s after SIGTERM. A termination already
   * under way is cut the same way: whatever still runs gets SIGTERM after that second and SIGKILL 2 s later.
   */
  function forceDelete(): Promise<void> {
    if (!termination) {
      terminating = true;
      openTermGate();
      termination = terminateSequence('force-deleted', 1000);
      return termination;
    }
    record('force-deleted-while-terminating');
    const running = all.filter((c) => c.process?.running);
    const term = setTimeout(() => {
      for (const c of running) if (c.process?.running) c.process.signal('SIGTERM');
    }, 1000);
    const kill = setTimeout(() => {
      for (const c of running) if (c.process?.running) void c.process.kill();
    }, 1000 + MIN_GRACE_AFTER_HOOK_MS);
    return termination.finally(() => {
      clearTimeout(term);
      clearTimeout(kill);
    });
  }

  return {
    namespace,
    name,
    ip: podIp,
    get terminating() {
      return terminating;
    },
    get finished() {
      return finished;
    },
    async start() {
      void startSequence();
    },
    forceDelete,
    terminate(cause, gracePeriodMs) {
      if (!termination) {
        terminating = true;
        openTermGate();
        termination = terminateSequence(cause, gracePeriodMs);
      }
      return termination;
    },
    async kill() {
      terminating = true;
      killedAll = true;
      openTermGate();
      for (const c of all) {
        stopProbes(c);
        clearTimeout(c.restartTimer);
        c.restartTimer = undefined;
      }
      await Promise.all(all.map((c) => c.process?.kill()));
      finished = true;
    },
    pids() {
      return all.flatMap((c) => (c.process?.running ? [c.process.pid] : []));
    },
  };
}

export function hasDisruptionTarget(pod: Pod): boolean {
  return getCondition(pod, 'DisruptionTarget')?.status === 'True';
}
