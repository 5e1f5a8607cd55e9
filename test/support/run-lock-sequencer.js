// The order jest hands test files to its workers (jest.config.js `testSequencer`). Plain JS: jest loads it before
// any transform applies.
//
// The end-to-end rollouts (test/e2e/) are one file that runs for minutes: every scenario takes the machine-wide run
// lock (sim/cluster/run-lock.ts), so they run one after another whatever the worker count. That file goes first, so
// one worker spends the whole run on it while the others take everything else. Jest's own order (longest known
// duration first, else largest file first) would put it last on a fresh checkout, where no durations are cached yet:
// it is a small file, and would start when the rest is done, making the whole run as long as the rest plus it.
//
// On a fresh checkout the rest follows in jest's order, integration tests (the slow ones: real processes, sockets,
// helm) before unit tests, so the last files to start are short ones. With durations cached, jest's order stands
// (files that failed last time first, then the longest).
import {sep} from 'node:path';
import Sequencer from '@jest/test-sequencer';

const E2E = `${sep}test${sep}e2e${sep}`;
const UNIT = `${sep}test${sep}unit${sep}`;

export default class RunLockSequencer extends Sequencer {
  sort(tests) {
    const ordered = super.sort(tests);
    const rank = (test) => {
      if (test.path.includes(E2E)) return 0;
      if (this.time(test) === undefined && test.path.includes(UNIT)) return 2;
      return 1;
    };
    // Array.prototype.sort is stable: within a rank, jest's order stays.
    return [...ordered].sort((a, b) => rank(a) - rank(b));
  }
}
