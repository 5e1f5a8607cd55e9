/**
 * The version the injector stamps and its default image are the release's: package.json's version and the library
 * chart's appVersion (the image the library chart renders by default), and the injector chart's appVersion.
 */
import {describe, expect, it} from '@jest/globals';
import {readFileSync} from 'node:fs';
import {parse} from 'yaml';
import {DEFAULT_SETTINGS} from '../../../proxy/src/inject/settings.js';
import {LAMEDUCK_VERSION} from '../../../proxy/src/inject/version.js';

const read = (p: string) => readFileSync(new URL(`../../../${p}`, import.meta.url), 'utf8');

describe('the injector version', () => {
  it('is package.json\'s, the library chart\'s appVersion, the injector chart\'s and the plugin\'s', () => {
    expect(LAMEDUCK_VERSION).toBe((JSON.parse(read('package.json')) as {version: string}).version);
    expect(LAMEDUCK_VERSION).toBe((parse(read('charts/lameduck/Chart.yaml')) as {appVersion: string}).appVersion);
    expect(LAMEDUCK_VERSION).toBe((parse(read('charts/lameduck-injector/Chart.yaml')) as {appVersion: string}).appVersion);
    expect(LAMEDUCK_VERSION).toBe((parse(read('helm-plugin/lameduck/plugin.yaml')) as {version: string}).version);
    expect(DEFAULT_SETTINGS.image).toBe(`lameduck:${LAMEDUCK_VERSION}`);
  });
});
