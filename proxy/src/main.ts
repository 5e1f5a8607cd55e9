#!/usr/bin/env node
/**
 * The process entry: the only file that touches `process` (env, argv, signals, stdout, exit).
 */
import {parseConfig, helpText, HelpRequested} from './config.js';
import {ConfigError} from './errors.js';
import {createLogger} from './log.js';
import {createMetrics} from './metrics.js';
import {createForwarder} from './forwarder/index.js';
import {createCluster} from './kube/index.js';
import {createSidecar} from './sidecar.js';
import {setFlagsFromString} from 'node:v8';

/**
 * undici parses the app's responses with llhttp compiled to WebAssembly. V8's optimising tier for it (TurboFan, run
 * in a background thread once the parser is hot) left ~10 MB more resident memory in about half of all starts (61.6
 * or 71.1 MB idle, measured from /proc/PID/smaps); with the baseline tier only (Liftoff) every start measured 62 MB,
 * and the saturated throughput did not move beyond noise (docs/performance.md, "Memory"). A sidecar's memory
 * limit must hold in every pod, so: baseline only, set before the first request compiles the parser.
 * https://v8.dev/blog/liftoff
 */
const V8_FLAGS = '--liftoff-only';

function main(): void {
  setFlagsFromString(V8_FLAGS);
  let config;
  try {
    config = parseConfig(process.env, process.argv.slice(2));
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(helpText() + '\n');
      process.exit(0);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`lameduck: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  const log = createLogger({level: config.logLevel, write: (line) => process.stdout.write(line + '\n')});
  const metrics = createMetrics();
  const cluster = createCluster({config, metrics, log, env: process.env});
  const sidecar = createSidecar({
    config,
    log,
    metrics,
    cluster,
    createForwarder,
    kill: (pid, signal) => process.kill(pid, signal),
    protectedPids: [process.pid, process.ppid],
  });

  // A signal during start-up is honoured too: the drain runs over whatever is already listening.
  process.on('SIGTERM', () => sidecar.signal('SIGTERM'));
  process.on('SIGINT', () => sidecar.signal('SIGINT'));
  process.on('uncaughtException', (err) => {
    log.error('uncaught exception', {error: err});
    process.exit(1);
  });

  sidecar.exitCode.then((code) => {
    log.info('exit', {code});
    process.exitCode = code;
    // Let stdout flush, then go even if a stray handle is still open.
    setTimeout(() => process.exit(code), 50).unref();
  });

  sidecar.start().then(
    (addr) => {
      log.info('listening', {
        traffic: {address: addr.traffic.address, port: addr.traffic.port},
        admin: {address: addr.admin.address, port: addr.admin.port},
        upstream: config.upstream.origin,
        mode: config.mode,
        kubernetes: cluster ? 'enabled' : 'standalone',
        pid: process.pid,
      });
    },
    (err: Error) => {
      log.error('start failed', {error: err});
      process.exit(1);
    },
  );
}

/**
 * Subcommands load their code only when asked (dynamic import): the sidecar's own start path never loads the injector,
 * so its idle memory does not grow by it.
 */
async function subcommand(name: string, argv: string[]): Promise<void> {
  if (name === 'inject') {
    const {runInjectCli} = await import('./inject/cli.js');
    process.exitCode = await runInjectCli(argv, {
      readStdin: async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      },
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
    });
    return;
  }
  const {runWebhookCommand} = await import('./inject/webhook-command.js');
  const server = await runWebhookCommand(argv, {
    env: process.env,
    log: (line) => process.stdout.write(line + '\n'),
    stderr: (text) => process.stderr.write(text),
  });
  if (typeof server === 'number') {
    process.exitCode = server;
    return;
  }
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const SUBCOMMANDS = new Set(['inject', 'webhook']);
const first = process.argv[2];
if (first !== undefined && SUBCOMMANDS.has(first)) {
  subcommand(first, process.argv.slice(3)).catch((err: unknown) => {
    process.stderr.write(`lameduck ${first}: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
} else {
  main();
}
