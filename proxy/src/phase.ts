/**
 * The drain's one-way phases (docs/design.md "The termination sequence"). Order matters: a phase only moves forward.
 */
export const PHASES = ['serving', 'deregistering', 'settling', 'closing', 'releasing', 'done'] as const;
export type Phase = (typeof PHASES)[number];

export function phaseIndex(phase: Phase): number {
  return PHASES.indexOf(phase);
}

/** True once the drain has reached (or passed) `phase`. */
export function reached(current: Phase, phase: Phase): boolean {
  return phaseIndex(current) >= phaseIndex(phase);
}
