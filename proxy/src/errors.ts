/**
 * Typed errors with stable codes. Callers switch on `code`, never on message text; `cause` keeps the original.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'LISTEN_FAILED'
  | 'UPSTREAM_REFUSED'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_RESET'
  | 'UPSTREAM_BAD_RESPONSE'
  | 'UPSTREAM_ERROR'
  | 'KUBE_UNAVAILABLE'
  | 'KUBE_FORBIDDEN'
  | 'KUBE_UNAUTHORIZED'
  | 'KUBE_NO_IDENTITY'
  | 'RELEASE_FAILED';

export class LameduckError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: {cause?: unknown}) {
    super(message, options);
    this.name = 'LameduckError';
    this.code = code;
  }
}

/** A configuration value that stops start-up; names the variable and the value. */
export class ConfigError extends LameduckError {
  readonly variable: string;
  readonly value: string | undefined;
  constructor(variable: string, value: string | undefined, reason: string, options?: {cause?: unknown}) {
    super('CONFIG_INVALID', `invalid ${variable}=${JSON.stringify(value ?? '')}: ${reason}`, options);
    this.name = 'ConfigError';
    this.variable = variable;
    this.value = value;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
