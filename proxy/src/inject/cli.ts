/**
 * `lameduck inject [flags] [FILE|DIR|-]...`: manifests in (files, directories, stdin), manifests with the sidecar
 * out (stdout). Also the Helm post-renderer (helm-plugin/lameduck): helm pipes the rendered release through it.
 * Exit 0 with the manifests; 1 with every refusal on stderr and nothing on stdout; 2 on bad flags.
 */
import {readFileSync} from 'node:fs';
import {readdir, readFile, stat} from 'node:fs/promises';
import {join} from 'node:path';
import type {EngineOptions} from './engine.js';
import {InjectError} from './errors.js';
import {injectManifests, type Source} from './manifests.js';
import {applySetting, DEFAULT_SETTINGS, SETTING_PARSERS, type InjectSettings} from './settings.js';
import {LAMEDUCK_VERSION} from './version.js';

export interface CliIo {
  readStdin(): Promise<string>;
  stdout(text: string): void;
  stderr(text: string): void;
}

export const INJECT_HELP = `Usage: lameduck inject [flags] [FILE|DIR|-]...

Adds the lameduck sidecar to every workload annotated lameduck.io/inject: "true" (or, with --all, every one
not annotated "false"); reads YAML (multi-document) or JSON manifests, kind: List included, from files,
directories (*.yaml, *.yml, *.json) or stdin, and writes them to stdout. Services in the input whose numeric
targetPort reaches an injected pod are pointed at lameduck's port name.

Flags:
  --all                      inject every workload that does not opt out
  --rbac                     add a Role and RoleBinding for each injected workload's ServiceAccount
  --namespace NS             namespace of the Roles for workloads that name none (default: none, the
                             namespace they are installed in)
  --prestop-token-secret S   Secret (NAME or NAME:KEY, key default "token") with LAMEDUCK_PRESTOP_TOKEN
  --prestop-token-file F     the same token, which the app's preStop hook then sends (X-Lameduck-Token)
Defaults for every workload (each also an annotation lameduck.io/<flag>):
${Object.keys(SETTING_PARSERS).map((k) => `  --${k}`).join('\n')}
`;

export class UsageError extends Error {}

export interface ParsedArgs {
  options: EngineOptions;
  inputs: string[];
  help: boolean;
}

export function parseInjectArgs(argv: readonly string[]): ParsedArgs {
  const defaults: InjectSettings = structuredClone(DEFAULT_SETTINGS) as InjectSettings;
  const options: EngineOptions = {defaults, version: LAMEDUCK_VERSION, all: false, rbac: false};
  const inputs: string[] = [];
  let help = false;
  let tokenFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-' || !arg.startsWith('--')) {
      inputs.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const value = (): string => {
      if (eq >= 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      return v;
    };
    if (name === 'help') help = true;
    else if (name === 'all') options.all = true;
    else if (name === 'rbac') options.rbac = true;
    else if (name === 'namespace') options.namespace = value();
    else if (name === 'prestop-token-secret') {
      const [secretName, secretKey] = value().split(':');
      if (!secretName) throw new UsageError('--prestop-token-secret needs a Secret name');
      defaults.prestopToken = {...defaults.prestopToken, secretName, secretKey: secretKey || 'token'};
    } else if (name === 'prestop-token-file') {
      tokenFile = value();
    } else if (name in SETTING_PARSERS) {
      try {
        applySetting(defaults, name, value(), {workload: 'command line', what: `--${name}`});
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    } else throw new UsageError(`unknown flag --${name} (lameduck inject --help lists them)`);
  }
  if (tokenFile !== undefined) {
    if (!defaults.prestopToken) throw new UsageError('--prestop-token-file needs --prestop-token-secret (the Secret the sidecar reads the same token from)');
    let token: string;
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (cause) {
      throw new UsageError(`--prestop-token-file ${tokenFile}: cannot read it (${(cause as Error).message})`);
    }
    if (token.length < 8) throw new UsageError(`--prestop-token-file ${tokenFile}: the token must have at least 8 characters`);
    defaults.prestopToken = {...defaults.prestopToken, value: token};
  }
  return {options, inputs, help};
}

const MANIFEST = /\.(ya?ml|json)$/i;

async function readInput(path: string, io: CliIo): Promise<Source[]> {
  if (path === '-') return [{name: '<stdin>', text: await io.readStdin()}];
  let info;
  try {
    info = await stat(path);
  } catch (cause) {
    throw new InjectError('INJECT_BAD_INPUT', path, 'cannot read it (no such file or directory?)', {cause});
  }
  if (!info.isDirectory()) return [{name: path, text: await readFile(path, 'utf8')}];
  const entries = (await readdir(path, {withFileTypes: true})).sort((a, b) => a.name.localeCompare(b.name));
  const out: Source[] = [];
  for (const e of entries) {
    if (e.isDirectory()) out.push(...(await readInput(join(path, e.name), io)));
    else if (MANIFEST.test(e.name)) out.push({name: join(path, e.name), text: await readFile(join(path, e.name), 'utf8')});
  }
  return out;
}

export async function runInjectCli(argv: readonly string[], io: CliIo): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseInjectArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`lameduck inject: ${err.message}\n`);
    return 2;
  }
  if (args.help) {
    io.stdout(INJECT_HELP);
    return 0;
  }
  try {
    const sources: Source[] = [];
    for (const input of args.inputs.length > 0 ? args.inputs : ['-']) sources.push(...(await readInput(input, io)));
    const out = injectManifests(sources, args.options);
    io.stdout(out.text);
    for (const note of out.notes) io.stderr(`lameduck inject: ${note}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof InjectError)) throw err;
    io.stderr(`lameduck inject: ${err.message}\n`);
    return 1;
  }
}
