#!/bin/sh
# Post-renderer: the rendered manifests on stdin, the same with the lameduck sidecar on stdout (`lameduck inject`).
# Helm 4 runs it as the plugin `lameduck`; Helm 3 takes this file's path: --post-renderer ./lameduck-inject.sh.
# Which lameduck: $LAMEDUCK_BIN (a command line, e.g. "node /opt/lameduck/dist/proxy/src/main.js"), else `lameduck`
# on PATH (npm install -g lameduck), else the npm package through npx.
set -u
if [ -n "${LAMEDUCK_BIN:-}" ]; then
  lameduck=$LAMEDUCK_BIN
elif command -v lameduck >/dev/null 2>&1; then
  lameduck=lameduck
else
  lameduck="npx --yes lameduck"
fi
# Helm 4 (4.1) keeps a post-renderer plugin's stderr to itself and says only "exited with error": a refusal is also
# written to the terminal, so that the user learns which workload was refused and why.
err=$(mktemp)
trap 'rm -f "$err"' EXIT
# shellcheck disable=SC2086 # a command line with arguments, on purpose
$lameduck inject "$@" 2>"$err"
status=$?
cat "$err" >&2
if [ "$status" -ne 0 ]; then
  { cat "$err" >/dev/tty; } 2>/dev/null || true
fi
exit "$status"
