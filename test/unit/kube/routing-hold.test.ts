import {describe, expect, it} from '@jest/globals';
import {createLogger} from '../../../proxy/src/log.js';
import {routingVerdict} from '../../../proxy/src/kube/routing.js';
import {createRoutingHold} from '../../../proxy/src/kube/routing-hold.js';
import type {WireEndpoint, WireEndpointSlice} from '../../../proxy/src/kube/wire.js';

const POD = {uid: 'uid-self', ips: ['10.0.0.1']};
const READY = {ready: true, serving: true, terminating: false};
const TERMINATING_SERVING = {ready: false, serving: true, terminating: true};
const NOT_READY = {ready: false, serving: false, terminating: false};

const ep = (uid: string, conditions: object): WireEndpoint => ({addresses: [uid === 'uid-self' ? '10.0.0.1' : '10.0.0.9'], conditions, targetRef: {uid}});
const slice = (service: string, eps: WireEndpoint[], labels: Record<string, string> = {}): WireEndpointSlice => ({
  metadata: {name: `${service}-x`, labels: {'kubernetes.io/service-name': service, ...labels}},
  addressType: 'IPv4',
  endpoints: eps,
});
const verdict = (slices: WireEndpointSlice[]) => routingVerdict({slices, services: new Map(), pod: POD, ignoreServices: []});

function setup(o: {dnsSettleMs?: number; soleGraceMs?: number} = {}) {
  let t = 1_000;
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({level: 'debug', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>)});
  const hold = createRoutingHold({log, now: () => t, startedAt: t, dnsSettleMs: o.dnsSettleMs ?? 30_000, soleGraceMs: o.soleGraceMs ?? 5_000});
  return {hold, lines, advance: (ms: number) => (t += ms)};
}

describe('routing hold', () => {
  it('no headless Service: no DNS settle is owed', () => {
    const {hold} = setup();
    expect(hold.judge(verdict([slice('web', [ep('uid-self', NOT_READY), ep('uid-2', READY)])])).done).toBe(true);
    expect(hold.dnsSettleLeftMs()).toBe(0);
  });

  it('a headless Service that published the pod: DNS settle runs from the last time it did', () => {
    const {hold, advance, lines} = setup();
    const headless = {'service.kubernetes.io/headless': ''};
    // The ClusterIP Service holds through the fallback; the headless one publishes the pod while it is ready.
    expect(hold.judge(verdict([slice('peers', [ep('uid-self', READY)], headless), slice('web', [ep('uid-self', READY)])])).done).toBe(false);
    advance(4_000);
    expect(hold.judge(verdict([slice('peers', [ep('uid-self', TERMINATING_SERVING)], headless), slice('web', [ep('uid-self', TERMINATING_SERVING)])])).done).toBe(false);
    advance(10_000);
    expect(hold.judge(verdict([slice('peers', [ep('uid-self', TERMINATING_SERVING)], headless), slice('web', [ep('uid-self', TERMINATING_SERVING), ep('uid-2', READY)])])).done).toBe(true);
    // Last published 14 s ago: 16 s of the 30 s left.
    expect(hold.dnsSettleLeftMs()).toBe(16_000);
    expect(lines.some((l) => l.msg?.toString().startsWith('a headless service has the pod'))).toBe(true);
  });

  it('a headless Service never seen publishing the pod: DNS settle runs from the start (answers before it may be cached)', () => {
    const {hold, advance} = setup();
    advance(2_000);
    expect(hold.judge(verdict([slice('peers', [ep('uid-self', TERMINATING_SERVING)], {'service.kubernetes.io/headless': ''})])).done).toBe(true);
    expect(hold.dnsSettleLeftMs()).toBe(28_000);
  });

  it('a sole-endpoint fallback holds for the grace, then ends; another endpoint appearing restarts the rule', () => {
    const {hold, advance} = setup({soleGraceMs: 5_000});
    const sole = verdict([slice('db', [ep('uid-self', TERMINATING_SERVING)])]);
    expect(hold.judge(sole)).toEqual({done: false, recheckInMs: 5_000});
    advance(3_000);
    expect(hold.judge(sole)).toEqual({done: false, recheckInMs: 2_000});
    // The replacement shows up (not ready yet): an ordinary fallback, held until it is ready.
    advance(1_000);
    expect(hold.judge(verdict([slice('db', [ep('uid-self', TERMINATING_SERVING), ep('uid-2', NOT_READY)])]))).toEqual({done: false});
    advance(10_000);
    expect(hold.judge(sole)).toEqual({done: false, recheckInMs: 5_000});
    advance(5_000);
    expect(hold.judge(sole).done).toBe(true);
  });
});
