// demo-app: a deliberately legacy app (docs/design.md, "Legacy apps come in two kinds"), serving HTTP/1.1 or, with
// PROTOCOL=grpc, gRPC (grpc-app.ts).
// Kind (a), the default: no signal handling at all, so SIGTERM kills it at once with whatever is in flight.
// Kind (b), IGNORE_SIGTERM=1: a no-op SIGTERM handler, behaving like `node app.js` as PID 1 (the kernel ignores
// signals without a handler for PID 1), so SIGTERM is ignored until kubelet's SIGKILL.
import {createDemoApp, type DemoApp} from './app.js';
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

let app: DemoApp;
if (config.protocol === 'grpc') {
  // Loaded only in gRPC mode: @grpc/grpc-js is a development dependency (the demo and the simulation use it), so
  // the HTTP mode and the image's production install do not need it.
  let grpcApp: typeof import('./grpc-app.js');
  try {
    grpcApp = await import('./grpc-app.js');
  } catch (err) {
    process.stderr.write(`demo-app: PROTOCOL=grpc needs the @grpc/grpc-js package (npm install @grpc/grpc-js): ${(err as Error).message}\n`);
    process.exit(2);
  }
  app = grpcApp.createGrpcDemoApp({podName: config.podName, log});
} else {
  app = createDemoApp({
    podName: config.podName,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    log,
    // "shortly after responding": the response is already flushed; give the socket a moment to close cleanly.
    onShutdownRequested: () => void setTimeout(() => process.exit(0), 50),
  });
}

try {
  const port = await app.listen(config.port, config.host);
  log({msg: 'listening', port, host: config.host ?? '::', pod: config.podName, ignoreSigterm: config.ignoreSigterm, protocol: config.protocol});
} catch (err) {
  process.stderr.write(`demo-app: cannot listen on ${config.host ?? '::'}:${config.port}: ${(err as Error).message}\n`);
  process.exit(1);
}
