/** What every part of the data plane, the HTTP/1.1 forwarder and the HTTP/2 server alike, is handed. */
import type {Config} from './config.js';
import type {LogThrottle} from './log-throttle.js';
import type {Logger} from './log.js';
import type {Metrics} from './metrics.js';
import type {Phase} from './phase.js';

export interface PlaneContext {
  readonly config: Config;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly phase: () => Phase;
  readonly now: () => number;
  /** Debug logging is on (checked once: no per-request level lookups). */
  readonly debug: boolean;
  readonly throttle: LogThrottle;
}
