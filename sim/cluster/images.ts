/**
 * Container images of the simulation: an image reference maps to the command its Dockerfile's exec-form ENTRYPOINT
 * runs (`["node", "dist/proxy/src/main.js"]`, `["node", "dist/demo-app/src/main.js"]`), run from the repository root
 * with this machine's node. A pod spec's `command` replaces the entrypoint and `args` are appended, as in Kubernetes.
 */
import {existsSync, readFileSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

export interface ImageEntry {
  /** Glob-like pattern on the image reference: `*` matches anything. */
  pattern: string;
  /** The ENTRYPOINT, argv[0] first; `node` means this machine's node binary. */
  entrypoint: string[];
  /** Defaults the program documents for variables the netns emulation rewrites (see pod-env.ts). */
  env?: Readonly<Record<string, string>>;
}

export interface ResolvedImage {
  /** Executable and arguments, ready for spawn. */
  argv: string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
}

export class UnknownImageError extends Error {
  readonly code = 'IMAGE_UNKNOWN';
  constructor(readonly image: string) {
    super(`no local command for image ${JSON.stringify(image)} (the simulation knows lameduck* and *demo-app*)`);
    this.name = 'UnknownImageError';
  }
}

export interface ImageMap {
  resolve(image: string, command?: string[], args?: string[]): ResolvedImage;
}

// lameduck's documented defaults (proxy/src/config.ts) for the variables whose host the netns emulation rewrites.
const LAMEDUCK_DEFAULTS = {LAMEDUCK_LISTEN: ':8080', LAMEDUCK_ADMIN_LISTEN: ':9901', LAMEDUCK_UPSTREAM: 'http://127.0.0.1:3000'};

/** The images of this repository: Dockerfile.proxy and Dockerfile.app. */
export const DEFAULT_IMAGES: readonly ImageEntry[] = [
  {pattern: '*demo-app*', entrypoint: ['node', 'dist/demo-app/src/main.js'], env: {PORT: '3000'}},
  {pattern: 'lameduck*', entrypoint: ['node', 'dist/proxy/src/main.js'], env: LAMEDUCK_DEFAULTS},
  {pattern: '*/lameduck*', entrypoint: ['node', 'dist/proxy/src/main.js'], env: LAMEDUCK_DEFAULTS},
];

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
}

export function createImageMap(opts: {repoRoot: string; images?: readonly ImageEntry[]; nodePath?: string}): ImageMap {
  const entries = (opts.images ?? DEFAULT_IMAGES).map((e) => ({...e, re: globToRegExp(e.pattern)}));
  const node = opts.nodePath ?? process.execPath;
  return {
    resolve(image, command, args) {
      const entry = entries.find((e) => e.re.test(image));
      if (!entry) throw new UnknownImageError(image);
      const argv = [...(command && command.length > 0 ? command : entry.entrypoint), ...(args ?? [])];
      if (argv[0] === 'node') argv[0] = node;
      return {argv, cwd: opts.repoRoot, env: entry.env ?? {}};
    },
  };
}

/** The repository root: the nearest directory above `from` whose package.json is lameduck's (works from src and dist). */
export function findRepoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = resolve(from);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as {name?: string}).name === 'lameduck') return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`lameduck's package.json not found above ${from}`);
    dir = parent;
  }
}
