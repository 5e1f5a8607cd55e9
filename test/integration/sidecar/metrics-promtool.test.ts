import {afterAll, describe, expect, it} from '@jest/globals';
import {spawnSync} from 'node:child_process';
import {startLameduck, startDemoApp, killAll} from '../../../sim/processes.js';
import {httpGet} from '../../../sim/http.js';

afterAll(killAll);

describe('/metrics', () => {
  it('passes promtool check metrics and starts every labelled series at 0', async () => {
    const app = await startDemoApp();
    const ld = await startLameduck({LAMEDUCK_UPSTREAM: `http://127.0.0.1:${app.port}`});
    const fresh = (await httpGet({host: '127.0.0.1', port: ld.adminPort, path: '/metrics'})).body;
    // Labelled series exist at 0 before anything happened, so increase() sees the first drain.
    expect(fresh).toMatch(/^lameduck_cut_total\{kind="request"\} 0$/m);
    expect(fresh).toMatch(/^lameduck_fallbacks_total\{reason="unreachable"\} 0$/m);
    expect(fresh).toMatch(/^lameduck_upstream_errors_total\{reason="refused"\} 0$/m);
    expect(fresh).toMatch(/^lameduck_requests_total\{phase="settling",code="5xx"\} 0$/m);
    expect(fresh).toMatch(/^lameduck_state\{state="serving"\} 1$/m);
    expect(fresh).toMatch(/^process_resident_memory_bytes /m);

    for (let i = 0; i < 5; i++) expect((await httpGet({host: '127.0.0.1', port: ld.trafficPort, path: '/'})).status).toBe(200);
    const body = (await httpGet({host: '127.0.0.1', port: ld.adminPort, path: '/metrics'})).body;
    expect(body).toMatch(/^lameduck_requests_total\{phase="serving",code="2xx"\} 5$/m);

    const promtool = spawnSync('promtool', ['check', 'metrics'], {input: body, encoding: 'utf8'});
    if (promtool.error) throw new Error(`promtool is required (apt-get install prometheus): ${promtool.error.message}`);
    expect(promtool.stderr + promtool.stdout).toBe('');
    expect(promtool.status).toBe(0);
  });
});
