// lameduck as a native sidecar, in initContainers[] with restartPolicy Always (the app's preStop
// /prestop starts the drain; SIGTERM reaches lameduck only after the app exited) loses no request over three
// consecutive rolling updates while kube-proxy lags up to 3 s and the EndpointSlice controller up to 5 s, with /slow
// (1 s) and streaming requests in the mix, over keep-alive and fresh connections, through the Service and an ingress.
// The test is in rollout-acceptance.ts, shared with the classic sidecar (rollout-lameduck.test.ts).
import {describeThreeRollouts} from '../support/rollout-acceptance.js';

describeThreeRollouts('native');
