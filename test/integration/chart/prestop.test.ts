/**
 * A container has one preStop handler. lameduck's (httpGet /prestop on the admin port) is what holds the app until
 * the drain is done, so an app that already has a preStop is refused with a message that says what to do - unless
 * the chart is told to keep the app's own hook.
 */
import {describe, expect, it} from '@jest/globals';
import {findObject, podSpecOf} from '../../support/helm.js';
import {useHelm} from '../../support/helm-fixture.js';

const helm = useHelm();

const OWN_HOOK = {preStop: {exec: {command: ['sh', '-c', 'wget -qO- http://127.0.0.1:9901/prestop; ./flush-caches']}}, postStart: {exec: {command: ['true']}}};

describe('an app container that already has a preStop hook', () => {
  it.each(['native', 'classic'])('is refused by default, with what to do instead (%s)', async (mode) => {
    const err = await helm.template('charts/demo', {app: {lifecycle: OWN_HOOK}, lameduck: {mode}}).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toMatchObject({code: 'HELM_FAILED'});
    expect(err!.message).toContain('container "app" already has a lifecycle.preStop hook, and a container has only one');
    expect(err!.message).toContain('set existingPreStop: keep');
    expect(err!.message).toContain('http://127.0.0.1:9901/prestop');
  });

  it('keeps the app\'s own hook (and its other lifecycle handlers) with existingPreStop: keep', async () => {
    const objects = await helm.template('charts/demo', {app: {lifecycle: OWN_HOOK}, lameduck: {existingPreStop: 'keep'}});
    const app = podSpecOf(findObject(objects, 'Deployment')).containers.find((c) => c.name === 'app')!;
    expect(app.lifecycle).toEqual(OWN_HOOK);
  });

  it('keeps the app\'s other lifecycle handlers when it adds its own preStop', async () => {
    const objects = await helm.template('charts/demo', {app: {lifecycle: {postStart: OWN_HOOK.postStart}}});
    const app = podSpecOf(findObject(objects, 'Deployment')).containers.find((c) => c.name === 'app')!;
    expect(app.lifecycle).toEqual({
      postStart: OWN_HOOK.postStart,
      preStop: {httpGet: {path: '/prestop', port: 9901, scheme: 'HTTP', httpHeaders: [{name: 'X-Lameduck-Token', value: expect.stringMatching(/^[A-Za-z0-9]{40}$/)}]}},
    });
  });
});
