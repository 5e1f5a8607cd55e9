#!/bin/sh
# Post-renderer: the rendered manifests on stdin, the same with the lameduck sidecar on stdout (`lameduck inject`).
# Helm 4 runs it as the plugin `lameduck`; Helm 3 takes this file's path: --post-renderer ./lameduck-inject.sh.
# Which lameduck: $LAMEDUCK_BIN (a command line, e.g. "node /opt/lameduck/dist/proxy/src/main.js"), else `lameduck`
# on PATH (npm install -g lameduck), else the npm package through npx.
set -eu
if [ -n "${LAMEDUCK_BIN:-}" ]; then
  # shellcheck disable=SC2086 # a command line with arguments, on purpose
  exec $LAMEDUCK_BIN inject "$@"
elif command -v lameduck >/dev/null 2>&1; then
  exec lameduck inject "$@"
else
  exec npx --yes lameduck inject "$@"
fi
