/**
 * The grace period a whole drain needs, as the chart's lameduck.terminationGracePeriodSeconds computes it
 * (charts/lameduck/templates/_grace.tpl; docs/design.md, "Deadline"): deregistration (or the fallback delay, whichever
 * is longer) + settle + quiet + the longest request + exitMargin; with a drainTimeout: drainTimeout + exitMargin.
 */
import {parseDuration} from '../duration.js';
import {settleOf, type InjectSettings} from './settings.js';

const seconds = (d: string): number => (parseDuration(d) ?? 0) / 1000;

export function drainGraceSeconds(s: Readonly<InjectSettings>): number {
  const margin = seconds(s.exitMargin);
  if (s.drainTimeout) return Math.ceil(seconds(s.drainTimeout) + margin);
  const deregistration = Math.max(seconds(s.gracePeriod.deregistration), seconds(s.fallbackDelay));
  return Math.ceil(deregistration + seconds(settleOf(s)) + seconds(s.quiet) + seconds(s.gracePeriod.longestRequest) + margin);
}
