/**
 * lameduck.terminationGracePeriodSeconds: the pod's grace period must hold a whole drain - the wait for
 * deregistration (or the fallback delay, whichever is longer), settle, quiet, the longest request - plus the exit
 * margin lameduck leaves the app. Checked against an independent computation with the proxy's own duration parser,
 * and against the deadline the proxy itself derives from the rendered pod (deadline.ts).
 */
import {beforeAll, describe, expect, it} from '@jest/globals';
import {parseConfig} from '../../../proxy/src/config.js';
import {drainBudget} from '../../../proxy/src/deadline.js';
import {parseDuration} from '../../../proxy/src/duration.js';
import {SETTINGS} from '../../../proxy/src/settings.js';
import {parse as parseYaml} from 'yaml';
import {readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {findObject, podSpecOf, REPO_ROOT, type KubeObject} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';

const helm = useHelm();
let defaults: {
  environment: string;
  settle: string;
  quiet: string;
  fallbackDelay: string;
  exitMargin: string;
  drainTimeout: string;
  gracePeriod: {deregistration: string; longestRequest: string};
};
beforeAll(async () => {
  defaults = parseYaml(await readFile(join(REPO_ROOT, 'charts/lameduck/values.yaml'), 'utf8')) as typeof defaults;
});

/** The settle presets as docs/helm.md and the chart README document them. */
const PRESETS: Record<string, string> = {'kube-proxy': '2s', ingress: '5s', 'cloud-lb': '20s'};

function ms(d: string): number {
  const v = parseDuration(d);
  if (v === undefined) throw new Error(`not a duration: ${d}`);
  return v;
}

function sidecarEnv(objects: KubeObject[]): Record<string, string> {
  const pod = podSpecOf(findObject(objects, 'Deployment'));
  const sidecar = [...(pod.initContainers ?? []), ...pod.containers].find((c) => c.name === 'lameduck')!;
  return Object.fromEntries((sidecar.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

const CASES: [string, Record<string, unknown>][] = [
  ['defaults (kube-proxy)', {}],
  ['ingress', {environment: 'ingress'}],
  ['cloud-lb', {environment: 'cloud-lb'}],
  ['custom settle with fractions', {environment: 'custom', settle: '7500ms', quiet: '1.5s'}],
  ['a fallback delay longer than deregistration', {fallbackDelay: '1m30s'}],
  ['a long deregistration and long requests', {gracePeriod: {deregistration: '40s', longestRequest: '2m'}, exitMargin: '10s'}],
];

describe('terminationGracePeriodSeconds when the pod does not set it', () => {
  it.each(CASES)('%s', async (_name, lameduck) => {
    const v = {...defaults, ...lameduck, gracePeriod: {...defaults.gracePeriod, ...(lameduck.gracePeriod as object | undefined)}} as typeof defaults;
    const settle = v.settle || PRESETS[v.environment]!;
    const needMs = Math.max(ms(v.gracePeriod.deregistration), ms(v.fallbackDelay)) + ms(settle) + ms(v.quiet) + ms(v.gracePeriod.longestRequest);
    const expected = Math.ceil((needMs + ms(v.exitMargin)) / 1000);

    const objects = await helm.template('charts/demo', {lameduck});
    const grace = podSpecOf(findObject(objects, 'Deployment')).terminationGracePeriodSeconds;
    expect(grace).toBe(expected);

    const env = sidecarEnv(objects);
    expect(env.LAMEDUCK_SETTLE).toBe(settle);
    // The proxy's own deadline for this pod leaves room for the whole drain.
    const config = parseConfig(env);
    const budget = drainBudget({drainTimeoutMs: config.drainTimeoutMs, exitMarginMs: config.exitMarginMs, gracePeriodSeconds: grace});
    expect(budget.source).toBe('pod');
    expect(budget.ms).toBeGreaterThanOrEqual(needMs);
  });

  it('is drainTimeout plus the exit margin when drainTimeout is set', async () => {
    const objects = await helm.template('charts/demo', {lameduck: {drainTimeout: '45s', exitMargin: '3s'}});
    expect(podSpecOf(findObject(objects, 'Deployment')).terminationGracePeriodSeconds).toBe(Math.ceil((ms('45s') + ms('3s')) / 1000));
    expect(sidecarEnv(objects).LAMEDUCK_DRAIN_TIMEOUT).toBe('45s');
  });
});

const DEFAULT_DNS_SETTLE_MS = ms(SETTINGS.find((x) => x.env === 'LAMEDUCK_DNS_SETTLE')!.default!);

describe('a pod behind a headless Service', () => {
  it.each([
    ['the proxy default DNS settle', {headless: true}, DEFAULT_DNS_SETTLE_MS],
    ['an explicit DNS settle', {headless: true, dnsSettle: '50s'}, ms('50s')],
  ])('gets a grace period that covers %s, which the proxy also applies', async (_name, lameduck, dnsSettleMs) => {
    const objects = await helm.template('charts/demo', {lameduck});
    const grace = podSpecOf(findObject(objects, 'Deployment')).terminationGracePeriodSeconds!;
    const needMs = Math.max(ms(defaults.gracePeriod.deregistration), ms(defaults.fallbackDelay)) + dnsSettleMs + ms(defaults.quiet) + ms(defaults.gracePeriod.longestRequest);
    expect(grace).toBe(Math.ceil((needMs + ms(defaults.exitMargin)) / 1000));
    const config = parseConfig(sidecarEnv(objects));
    expect(config.dnsSettleMs).toBe(dnsSettleMs);
    expect(drainBudget({drainTimeoutMs: config.drainTimeoutMs, exitMarginMs: config.exitMarginMs, gracePeriodSeconds: grace}).ms).toBeGreaterThanOrEqual(needMs);
  });

  it('leaves the grace period alone when the chart is not told of one', async () => {
    const objects = await helm.template('charts/demo', {lameduck: {dnsSettle: '50s'}});
    expect(podSpecOf(findObject(objects, 'Deployment')).terminationGracePeriodSeconds).toBe(
      Math.ceil((Math.max(ms(defaults.gracePeriod.deregistration), ms(defaults.fallbackDelay)) + ms('2s') + ms(defaults.quiet) + ms(defaults.gracePeriod.longestRequest) + ms(defaults.exitMargin)) / 1000),
    );
    expect(sidecarEnv(objects).LAMEDUCK_DNS_SETTLE).toBe('50s');
  });
});

describe('a pod that sets terminationGracePeriodSeconds', () => {
  it('keeps its own value', async () => {
    const objects = await helm.template('charts/demo', {terminationGracePeriodSeconds: 120});
    expect(podSpecOf(findObject(objects, 'Deployment')).terminationGracePeriodSeconds).toBe(120);
  });
});

describe('settle', () => {
  it('needs an explicit value with environment: custom', async () => {
    await expect(helm.template('charts/demo', {lameduck: {environment: 'custom'}})).rejects.toThrow(/settle/);
  });
});
