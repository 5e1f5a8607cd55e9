/**
 * The simulation runs what the chart renders (classic sidecar): charts/demo rendered by a real helm, its Deployment
 * and Service fed unchanged to the local cluster simulation and rolled under load (chart-simulation-harness.ts):
 * zero failed requests, and every old pod drained through the Kubernetes API (not the fallback) within the
 * deadline the chart's grace period gives it. The tests are in chart-simulation-suite.ts, shared with the other mode.
 */
import {describeChartOnSimulation} from '../../support/chart-simulation-suite.js';

describeChartOnSimulation('classic');
