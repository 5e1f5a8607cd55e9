// lameduck as a classic sidecar loses no request over three consecutive rolling updates while
// kube-proxy lags up to 3 s and the EndpointSlice controller up to 5 s, with /slow (1 s) and streaming requests in
// the mix, over keep-alive and fresh connections, through the Service's virtual IP and an ingress.
// The test is in rollout-acceptance.ts, shared with the native sidecar (rollout-lameduck-native.test.ts).
import {describeThreeRollouts} from '../support/rollout-acceptance.js';

describeThreeRollouts('classic');
