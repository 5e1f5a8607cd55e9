// The /proc and wrk parsers of bench/perf.ts (docs/performance.md): fixed inputs with the awkward cases, then the live /proc of
// this very process, so a kernel format change shows up here rather than as silently wrong benchmark figures.
import {describe, expect, it} from '@jest/globals';
import {busyShare, cpuMicros, memory, parseKbField, parseProcStatCpus, parseStat, processTree} from '../../../bench/lib/proc.js';
import {parseWrk, wrkDurationMs} from '../../../bench/lib/wrk.js';
import {percentile} from '../../../bench/lib/load.js';

describe('perf parsers', () => {
  it('parses /proc/PID/stat even when the command name holds spaces and parentheses', () => {
    const fields = Array.from({length: 50}, (_, i) => String(i + 3)); // field 3 onwards
    fields[0] = 'S';
    fields[1] = '4242'; // ppid
    fields[11] = '1234'; // utime
    fields[12] = '567'; // stime
    const s = parseStat(`777 (node (x) y) ${fields.join(' ')}\n`);
    expect(s).toEqual({pid: 777, comm: 'node (x) y', ppid: 4242, utimeTicks: 1234, stimeTicks: 567});
    expect(() => parseStat('garbage')).toThrow(expect.objectContaining({code: 'PROC_PARSE'}));
  });

  it('reads kB fields of /proc/PID/status and smaps_rollup', () => {
    const status = 'Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   51234 kB\nRssAnon:\t 100 kB\n';
    expect(parseKbField(status, 'VmRSS')).toBe(51234);
    expect(parseKbField(status, 'VmSwap')).toBeUndefined();
    expect(parseKbField('Rss:      2000 kB\nPss:               1500 kB\nPss_Anon:   700 kB\n', 'Pss')).toBe(1500);
  });

  it('splits /proc/stat per core and computes busy shares', () => {
    const a = parseProcStatCpus('cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0 0 0\ncpu1 5 0 5 40 0 0 0 0 0 0\nintr 1\n');
    const b = parseProcStatCpus('cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 35 0 15 50 0 0 0 0 0 0\ncpu1 5 0 5 140 10 0 0 0 0 0\n');
    expect([...a.keys()]).toEqual([0, 1]);
    expect(busyShare(a, b, 0)).toBeCloseTo(40 / 50);
    expect(busyShare(a, b, 1)).toBe(0); // iowait is not busy
    expect(busyShare(a, b, 7)).toBeNaN();
  });

  it('parses wrk --latency output, errors included', () => {
    const out = [
      'Running 3s test @ http://127.0.0.1:1234/',
      '  1 threads and 64 connections',
      '  Latency Distribution',
      '     50%  612.00us',
      '     75%    1.00ms',
      '     90%    1.50ms',
      '     99%    2.00s ',
      '  30153 requests in 3.00s, 6.1MB read',
      '  Socket errors: connect 1, read 2, write 0, timeout 3',
      '  Non-2xx or 3xx responses: 4',
      'Requests/sec:  10050.88',
    ].join('\n');
    expect(parseWrk(out)).toEqual({requests: 30153, seconds: 3, rps: 10050.88, p50Ms: 0.612, p99Ms: 2000, errors: 10});
    expect(wrkDurationMs('1.00m')).toBe(60_000);
    expect(wrkDurationMs('fast')).toBeNaN();
    expect(() => parseWrk('unable to connect')).toThrow(expect.objectContaining({code: 'WRK_FAILED'}));
  });

  it('takes nearest-rank percentiles', () => {
    const xs = Array.from({length: 1000}, (_, i) => i + 1);
    expect([percentile(xs, 50), percentile(xs, 99), percentile(xs, 99.9), percentile(xs, 100)]).toEqual([500, 990, 999, 1000]);
    expect(percentile([], 50)).toBeNaN();
  });

  it('reads this process from the live /proc', () => {
    let x = 0;
    for (let i = 0; i < 2e6; i++) x += Math.sqrt(i); // some CPU time to see
    expect(x).toBeGreaterThan(0);
    expect(processTree(process.pid)).toContain(process.pid);
    expect(cpuMicros([process.pid])).toBeGreaterThan(0);
    const m = memory([process.pid]);
    const rssKb = process.memoryUsage().rss / 1024;
    expect(m.rssMb * 1024).toBeGreaterThan(rssKb * 0.5);
    expect(m.rssMb * 1024).toBeLessThan(rssKb * 2);
    expect(cpuMicros([2 ** 22 + 1])).toBeNaN(); // no such pid
  });
});
