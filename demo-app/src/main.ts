// demo-app: a deliberately legacy HTTP app (docs/design.md, "Legacy apps come in two kinds").
// Kind (a), the default: no signal handling at all, so SIGTERM kills it at once with whatever is in flight.
// Kind (b), IGNORE_SIGTERM=1: a no-op SIGTERM handler, behaving like `node app.js` as PID 1 (the kernel ignores
// signals without a handler for PID 1), so SIGTERM is ignored until kubelet's SIGKILL.
import {createDemoApp} from './app.js';
import {readDemoAppConfig, DemoAppConfigError} from './config.js';

const log = (line: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify({time: new Date().toISOString(), ...line}) + '\n');
};

let config;
try {
  config = readDemoAppConfig(process.env);
} catch (err) {
  if (!(err instanceof DemoAppConfigError)) throw err;
  process.stderr.write(`demo-app: ${err.message}\n`);
  process.exit(2);
}

if (config.ignoreSigterm) {
  process.on('SIGTERM', () => log({msg: 'SIGTERM ignored', pod: config.podName}));
}

const app = createDemoApp({
  podName: config.podName,
  keepAliveTimeoutMs: config.keepAliveTimeoutMs,
  log,
  // "shortly after responding": the response is already flushed; give the socket a moment to close cleanly.
  onShutdownRequested: () => void setTimeout(() => process.exit(0), 50),
});

try {
  const port = await app.listen(config.port, config.host);
  log({msg: 'listening', port, host: config.host ?? '::', pod: config.podName, ignoreSigterm: config.ignoreSigterm});
} catch (err) {
  process.stderr.write(`demo-app: cannot listen on ${config.host ?? '::'}:${config.port}: ${(err as Error).message}\n`);
  process.exit(1);
}
