// The end-to-end rollouts, each a scenario of the local cluster simulation (sim/cluster/scenario-runner.ts), in one
// test file. Every scenario takes the machine-wide run lock (sim/cluster/run-lock.ts), so they run one after another
// whatever jest's worker count: as files of their own, a second worker would pick one up and sit idle waiting for the
// lock while another ran. In one file one worker runs them in turn while the others run the rest of the suite (the
// sequencer, test/support/run-lock-sequencer.js, starts this file first).
//
// Each module below registers its own describe block. One scenario alone: `npx jest test/e2e -t '<its name>'`.

// The problem, and the usual workaround falling short.
import './rollout-bare.js';
import './rollout-sleep-short.js';
import './legacy-kind-b.js';
import './rollout-headless.js';
import './rollout-grpc.js';
// What makes the difference: watching the API.
import './rollout-noapi.js';
import './rollout-single-replica.js';
import './rollout-lameduck-injected.js';
// lameduck loses nothing over three rollouts, as a classic and as a native sidecar.
import './rollout-lameduck.js';
