#!/usr/bin/env bash
# Prints the path of the AWS Lambda Runtime Interface Client for Node.js (npm aws-lambda-ric, the
# client the nodejs22.x runtime runs), installed once into a cache folder outside the repository.
#
# Its native addon (rapid-client.node) is NOT prebuilt in 4.0.2: npm's install scripts compile the bundled
# curl and aws-lambda-cpp sources and run node-gyp, which needs cmake, make and a C/C++ compiler
# (4 minutes on 2 busy cores here). Once installed, the cache makes it instant.
#
# Why not a devDependency: it is only the runtime the emulator starts, never imported by our code,
# and its native addon must not land in the project's node_modules (shared by every checkout here).
# Order: $LAMBDA_RIC_DIR if set (a folder holding node_modules/aws-lambda-ric), else the cache, else
# `npm install` into the cache. Progress on stderr; stdout carries only the path of index.mjs.
set -euo pipefail

say() { printf '[lambda-ric] %s\n' "$*" >&2; }
die() { printf '[lambda-ric] ERROR: %s\n' "$*" >&2; exit 1; }

version="${LAMBDA_RIC_VERSION:-4.0.2}"
cache_root="${CONSUL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/consul-peering-automation}"
prefix="${LAMBDA_RIC_DIR:-$cache_root/aws-lambda-ric-$version}"
package="$prefix/node_modules/aws-lambda-ric"
entry="$package/index.mjs"

installed() {
  [[ -f "$entry" ]] && [[ "$(sed -n 's/^[[:space:]]*"version": "\(.*\)",$/\1/p' "$package/package.json" | head -1)" == "$version" ]]
}
if installed; then
  echo "$entry"
  exit 0
fi
[[ -z "${LAMBDA_RIC_DIR:-}" ]] || die "LAMBDA_RIC_DIR=$LAMBDA_RIC_DIR holds no aws-lambda-ric $version ($entry)"

# The client needs Node >= 22 (the project's node@22 devDependency, first on PATH under npm).
repo="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$repo/node_modules/.bin:$PATH"
command -v npm >/dev/null || die "npm is not installed"
for tool in cmake make cc c++ python3; do
  command -v "$tool" >/dev/null ||
    die "$tool is not installed; aws-lambda-ric compiles its native addon at install (apt-get install cmake make g++ python3)"
done
say "installing aws-lambda-ric@$version into $prefix (node $(node --version))"
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "aws-lambda-ric@$version" >&2 ||
  die "npm install aws-lambda-ric@$version failed (output above); it needs registry access once"
installed || die "npm installed aws-lambda-ric but $entry is missing"
say "installed $entry"
echo "$entry"
