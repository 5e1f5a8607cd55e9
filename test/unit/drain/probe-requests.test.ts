import {describe, expect, it} from '@jest/globals';
import type {IncomingMessage} from 'node:http';
import {createProbeMatcher} from '../../../proxy/src/probe-requests.js';

const req = (url: string, ua?: string) => ({url, headers: ua === undefined ? {} : {'user-agent': ua}}) as unknown as IncomingMessage;

describe('probe requests', () => {
  const isProbe = createProbeMatcher(['/healthz', '/ready']);

  it.each(['kube-probe/1.33', 'ELB-HealthChecker/2.0', 'GoogleHC/1.0'])('a %s user agent is a probe', (ua) => {
    expect(isProbe(req('/anything', ua))).toBe(true);
  });

  it('an ignored path is a probe with or without a query; other paths and agents are traffic', () => {
    expect(isProbe(req('/healthz'))).toBe(true);
    expect(isProbe(req('/ready?verbose=1'))).toBe(true);
    expect(isProbe(req('/healthz/deep'))).toBe(false);
    expect(isProbe(req('/', 'curl/8.5'))).toBe(false);
    expect(isProbe(req('/', 'Mozilla/5.0 kube-probe/1.33'))).toBe(false);
  });

  it('without ignored paths only user agents count', () => {
    const m = createProbeMatcher([]);
    expect(m(req('/healthz'))).toBe(false);
    expect(m(req('/healthz', 'kube-probe/1.30'))).toBe(true);
  });
});
