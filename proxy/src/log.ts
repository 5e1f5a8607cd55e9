/**
 * JSON-lines logger: one object per line on the given sink, `{time, level, msg, ...context}`.
 * Messages are short and lowercase; everything variable goes in the context object so log pipelines can index it.
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  debug(msg: string, ctx?: Record<string, unknown>): void;
  info(msg: string, ctx?: Record<string, unknown>): void;
  warn(msg: string, ctx?: Record<string, unknown>): void;
  error(msg: string, ctx?: Record<string, unknown>): void;
  child(ctx: Record<string, unknown>): Logger;
  isEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Receives one serialized line, without the trailing newline. */
  write: (line: string) => void;
  base?: Record<string, unknown>;
  now?: () => Date;
}

function serializeError(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = {message: err.message, name: err.name};
  const code = (err as {code?: unknown}).code;
  if (code !== undefined) out.code = code;
  if (err.cause !== undefined) out.cause = err.cause instanceof Error ? serializeError(err.cause) : String(err.cause);
  return out;
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return serializeError(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

export function createLogger(options: LoggerOptions): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level);
  const now = options.now ?? (() => new Date());
  const base = options.base ?? {};
  const emit = (level: LogLevel, msg: string, ctx?: Record<string, unknown>): void => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    let line: string;
    try {
      line = JSON.stringify({time: now().toISOString(), level, msg, ...base, ...ctx}, replacer);
    } catch {
      line = JSON.stringify({time: now().toISOString(), level, msg, ...base, logError: 'unserializable context'});
    }
    options.write(line);
  };
  return {
    debug: (msg, ctx) => emit('debug', msg, ctx),
    info: (msg, ctx) => emit('info', msg, ctx),
    warn: (msg, ctx) => emit('warn', msg, ctx),
    error: (msg, ctx) => emit('error', msg, ctx),
    child: (ctx) => createLogger({...options, base: {...base, ...ctx}}),
    isEnabled: (level) => LOG_LEVELS.indexOf(level) >= threshold,
  };
}

/** For tests and library use: drops everything. */
export const silentLogger: Logger = createLogger({level: 'error', write: () => {}});
