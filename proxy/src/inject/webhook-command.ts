/**
 * `lameduck webhook [flags]`: serves the mutating admission webhook over HTTPS (charts/lameduck-injector runs it).
 * The same defaults flags as `lameduck inject` (--image, --mode, ...); namespaces and pods override per annotation.
 */
import {createLogger} from '../log.js';
import {parseInjectArgs, UsageError} from './cli.js';
import {startWebhookServer, type WebhookServer} from './webhook-server.js';

export const WEBHOOK_HELP = `Usage: lameduck webhook --cert-file FILE --key-file FILE [--listen :8443] [--reload-interval 10s] [inject flags]

Serves AdmissionReview v1 on POST /inject (the namespace opted in: pods opt out with lameduck.io/inject: "false")
and POST /inject-opted-in (only pods that opted in), GET /healthz. The certificate files are re-read when they change.
Defaults flags as for lameduck inject (--image, --mode, ...).
`;

export interface WebhookIo {
  env: Record<string, string | undefined>;
  log: (line: string) => void;
  stderr: (text: string) => void;
}

function take(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}`) {
      const v = argv[i + 1];
      argv.splice(i, 2);
      return v;
    }
    if (a.startsWith(`--${name}=`)) {
      argv.splice(i, 1);
      return a.slice(name.length + 3);
    }
  }
  return undefined;
}

/** Starts the server, or returns an exit code (help, bad flags). */
export async function runWebhookCommand(argvIn: readonly string[], io: WebhookIo): Promise<WebhookServer | number> {
  const argv = [...argvIn];
  if (argv.includes('--help')) {
    io.stderr(WEBHOOK_HELP);
    return 0;
  }
  const certFile = take(argv, 'cert-file') ?? io.env.LAMEDUCK_WEBHOOK_CERT_FILE;
  const keyFile = take(argv, 'key-file') ?? io.env.LAMEDUCK_WEBHOOK_KEY_FILE;
  const listen = take(argv, 'listen') ?? ':8443';
  const reloadText = take(argv, 'reload-interval') ?? '10s';
  const m = /^(.*):(\d+)$/.exec(listen);
  const reload = /^(\d+)s$/.exec(reloadText);
  try {
    if (!certFile || !keyFile) throw new UsageError('--cert-file and --key-file are required');
    if (!m || Number(m[2]) > 65535) throw new UsageError(`--listen ${JSON.stringify(listen)}: expected [HOST]:PORT`);
    if (!reload || Number(reload[1]) < 1) throw new UsageError(`--reload-interval ${JSON.stringify(reloadText)}: expected whole seconds, e.g. 10s`);
    const {options, inputs} = parseInjectArgs(argv);
    if (inputs.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(inputs[0])}`);
    const logger = createLogger({level: 'info', write: io.log, base: {component: 'webhook'}});
    const log = (level: 'info' | 'warn' | 'error', message: string, context: Record<string, unknown> = {}) => logger[level](message, context);
    const server = await startWebhookServer({
      certFile,
      keyFile,
      // No host: Node listens on :: and falls back to 0.0.0.0 where IPv6 is off.
      ...(m[1] ? {host: m[1]} : {}),
      port: Number(m[2]),
      admission: {defaults: options.defaults, version: options.version},
      reloadIntervalMs: Number(reload[1]) * 1000,
      log,
    });
    log('info', 'listening', {port: server.address().port});
    return server;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`lameduck webhook: ${err.message}\n`);
    return 2;
  }
}
