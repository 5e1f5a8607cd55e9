/**
 * Why injection refused a workload. Every refusal names the workload and what to do, so that no pod is left without
 * its sidecar silently: the CLI and the post-renderer stop with the message, the webhook denies or (per its
 * failurePolicy) lets the pod through with the message as a warning.
 */
export type InjectErrorCode =
  | 'INJECT_BAD_ANNOTATION'
  | 'INJECT_BAD_FLAG'
  | 'INJECT_NO_CONTAINERS'
  | 'INJECT_NO_APP_PORT'
  | 'INJECT_AMBIGUOUS_PORT'
  | 'INJECT_PORT_CLASH'
  | 'INJECT_NAME_CLASH'
  | 'INJECT_EXISTING_PRESTOP'
  | 'INJECT_NO_APP_CONTAINER'
  | 'INJECT_BAD_INPUT';

export class InjectError extends Error {
  readonly code: InjectErrorCode;
  /** `Kind namespace/name` of the workload (or the input file) the refusal is about. */
  readonly workload: string;
  constructor(code: InjectErrorCode, workload: string, message: string, options?: {cause?: unknown}) {
    super(`${workload}: ${message}`, options);
    this.name = 'InjectError';
    this.code = code;
    this.workload = workload;
  }
}
