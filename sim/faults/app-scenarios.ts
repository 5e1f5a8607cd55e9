/**
 * Fault matrix, app and signal side (docs/reliability.md, faults 9, 10, 13, 16): the app crashes or is too slow, signals repeat,
 * WebSockets are open at the trigger. Standalone lameduck (no pod identity: the timed fallback drain), so these
 * measure the data plane and the deadline, not the API.
 */
import {httpGet} from '../http.js';
import WebSocket from 'ws';
import {runDrainScenario} from './drain-scenario.js';
import type {Verdict} from './verdict.js';
import {within} from '../cluster/wait.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const LOAD = {rps: 40, keepAliveFraction: 0.5};
const STANDALONE = {api: false, env: {LAMEDUCK_FALLBACK_DELAY: '500ms'}};

/** 9. The app crashes mid-drain: no route to the app is left, so requests get a clean 502, never a hang. */
export const appCrashesMidDrain = (): Promise<Verdict> =>
  runDrainScenario({
    id: '9',
    name: 'app crashes mid-drain',
    world: {...STANDALONE, deadlineMs: 4_000, load: LOAD},
    during: async (w) => {
      await sleep(200);
      w.app.kill('SIGKILL');
    },
    log: {want: 'upstream request failed (warn)', match: (l) => l.msg === 'upstream request failed' && l.level === 'warn'},
    metric: {name: 'lameduck_upstream_errors_total', labels: {reason: 'refused'}},
    // The fault leaves no route to the app: only clean 502 answers may fail, no reset, no timeout.
    allowedLost: (w) => w.load?.records.filter((r) => r.status === 502).length ?? 0,
  });

/** 10. The app is slower than the deadline: the long requests are cut at the deadline, counted, the exit is in time. */
export const appSlowerThanDeadline = (): Promise<Verdict> => {
  const long: Promise<string>[] = [];
  return runDrainScenario({
    id: '10',
    name: 'app slower than the deadline',
    world: {...STANDALONE, deadlineMs: 3_000, load: LOAD},
    before: async (w) => {
      for (let i = 0; i < 3; i++) {
        long.push(
          httpGet({host: '127.0.0.1', port: w.ld.trafficPort, path: '/slow?ms=30000', timeoutMs: 20_000}).then(
            (r) => `status ${r.status}`,
            (err: Error) => `cut (${err.message})`,
          ),
        );
      }
      await sleep(200);
    },
    log: {want: 'deadline reached: cut what remained', match: (l) => l.msg === 'deadline reached: cut what remained'},
    metric: {name: 'lameduck_cut_total', labels: {kind: 'request'}, min: 3},
    check: async () => {
      const outcomes = await Promise.all(long);
      const failures = outcomes.filter((o) => !o.startsWith('cut')).map((o) => `a 30 s request was not cut: ${o}`);
      return {failures, notes: [`3 × /slow?ms=30000: ${[...new Set(outcomes)].join(', ')}`]};
    },
  });
};

/** 13. A second SIGTERM and a SIGINT during the drain: no-ops (logged, counted), one drain, one exit in time. */
export const repeatedSignals = (): Promise<Verdict> =>
  runDrainScenario({
    id: '13',
    name: 'second SIGTERM and SIGINT during the drain',
    world: {...STANDALONE, mode: 'classic', deadlineMs: 3_000, load: LOAD},
    during: async (w) => {
      await sleep(200);
      w.ld.kill('SIGTERM');
      await sleep(200);
      w.ld.kill('SIGINT');
    },
    log: {want: 'drain already running', match: (l) => l.msg === 'drain already running'},
    metric: {name: 'lameduck_drain_triggers_total', labels: {trigger: 'signal'}, min: 3},
    check: async (w) => {
      const drains = w.ld.logs.filter((l) => l.msg === 'drain started').length;
      return {failures: drains === 1 ? [] : [`${drains} drains started`]};
    },
  });

interface WsProbe {
  openedAt: number;
  closedAt?: number;
  code?: number;
  echoes: number;
  missing: number;
}

/** 16. WebSockets open at the trigger: kept (echo works) until the deadline, then destroyed and counted. */
export const webSocketsAtTrigger = (): Promise<Verdict> => {
  const probes: WsProbe[] = [];
  const sockets: WebSocket[] = [];
  let pinger: NodeJS.Timeout | undefined;
  let triggerAt = 0;
  return runDrainScenario({
    id: '16',
    name: 'WebSockets open at the trigger',
    world: {...STANDALONE, deadlineMs: 3_000, load: LOAD},
    before: async (w) => {
      for (let i = 0; i < 5; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${w.ld.trafficPort}/ws`);
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
        });
        const p: WsProbe = {openedAt: Date.now(), echoes: 0, missing: 0};
        let outstanding = 0;
        ws.on('message', () => {
          p.echoes++;
          outstanding = Math.max(0, outstanding - 1);
        });
        ws.on('error', () => undefined);
        ws.on('close', (code) => {
          p.closedAt = Date.now();
          p.code = code;
          p.missing = outstanding;
        });
        (ws as unknown as {outstanding: () => number}).outstanding = () => outstanding;
        ws.on('ping', () => undefined);
        probes.push(p);
        sockets.push(ws);
        (ws as unknown as {send1: () => void}).send1 = () => {
          if (ws.readyState !== WebSocket.OPEN) return;
          outstanding++;
          ws.send('ping');
        };
      }
      pinger = setInterval(() => {
        for (const ws of sockets) (ws as unknown as {send1: () => void}).send1();
      }, 100);
      triggerAt = Date.now();
    },
    log: {want: 'deadline reached: cut what remained', match: (l) => l.msg === 'deadline reached: cut what remained'},
    metric: {name: 'lameduck_cut_total', labels: {kind: 'upgrade'}, min: 5},
    check: async (w) => {
      const deadlineMs = 3_000;
      await within(Promise.all(sockets.map((ws) => (ws.readyState === WebSocket.CLOSED ? undefined : new Promise((r) => ws.once('close', r))))), 3_000, undefined);
      clearInterval(pinger);
      for (const ws of sockets) ws.terminate();
      const failures: string[] = [];
      for (const p of probes) {
        if (p.closedAt === undefined) failures.push('a WebSocket outlived the deadline');
        else if (p.closedAt - triggerAt < deadlineMs - 600) failures.push(`a WebSocket closed ${p.closedAt - triggerAt} ms after the trigger, before the deadline`);
        // 1006: the TCP connection ended without a close frame — lameduck injects nothing into the byte pipe.
        if (p.code !== undefined && p.code !== 1006) failures.push(`close code ${p.code}: a frame was injected`);
        if (p.echoes < 10) failures.push(`only ${p.echoes} echoes while open`);
      }
      const lifetimes = probes.map((p) => (p.closedAt ?? NaN) - triggerAt);
      void w;
      return {failures, notes: [`5 WebSockets closed ${Math.min(...lifetimes)}–${Math.max(...lifetimes)} ms after the trigger (code ${probes[0]?.code}), ${probes.reduce((s, p) => s + p.echoes, 0)} echoes`]};
    },
  });
};

export const APP_SCENARIOS = [appCrashesMidDrain, appSlowerThanDeadline, repeatedSignals, webSocketsAtTrigger];
