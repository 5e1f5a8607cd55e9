// The command-line shape the bench CLIs share (showdown.ts, rollout.ts): `--help`/`-h`, a `--json` switch, and
// options that take a value as `--flag value` or `--flag=value`. Each CLI checks the values itself.

export type CliArg = {kind: 'help'} | {kind: 'json'} | {kind: 'option'; flag: string; value: string};

/**
 * The arguments of `argv` in order. An option not in `known`, or one without a value, throws `usageError(message)`;
 * `unknownHint` is appended to the message for an unknown option.
 */
export function* cliArgs(argv: readonly string[], known: readonly string[], usageError: (message: string) => Error, unknownHint = ''): Generator<CliArg> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      yield {kind: 'help'};
      continue;
    }
    if (arg === '--json') {
      yield {kind: 'json'};
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    if (!known.includes(flag)) throw usageError(`unknown option ${JSON.stringify(arg)}${unknownHint}`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw usageError(`${flag} needs a value`);
    yield {kind: 'option', flag, value};
  }
}
