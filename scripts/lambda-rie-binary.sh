#!/usr/bin/env bash
# Prints the path of the AWS Lambda Runtime Interface Emulator (aws-lambda-rie), which runs the
# deployed function bundles locally (devkit/lambda-emulator.ts).
#
# Order: $LAMBDA_RIE_BIN if set, else a cached build, else `go install` from the Go module proxy.
# Why build: the emulator is a Go module (Apache-2.0) and no registry we reach ships its binary. The
# module has no tags the proxy lists, so a pseudo-version is pinned (LAMBDA_RIE_VERSION overrides).
#
# Progress goes to stderr; stdout carries only the path, so `$(bash scripts/lambda-rie-binary.sh)` works.
set -euo pipefail

say() { printf '[lambda-rie-binary] %s\n' "$*" >&2; }
die() { printf '[lambda-rie-binary] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -n "${LAMBDA_RIE_BIN:-}" ]]; then
  [[ -x "$LAMBDA_RIE_BIN" ]] || die "LAMBDA_RIE_BIN=$LAMBDA_RIE_BIN is not an executable file"
  echo "$LAMBDA_RIE_BIN"
  exit 0
fi

module=github.com/aws/aws-lambda-runtime-interface-emulator
version="${LAMBDA_RIE_VERSION:-v0.0.0-20261030222936-bef5c4ba774d}"
cache_root="${CONSUL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/consul-peering-automation}"
bin="$cache_root/aws-lambda-rie-$version/aws-lambda-rie"
if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || die "Go is not installed; install Go >= 1.22, or point LAMBDA_RIE_BIN at an aws-lambda-rie binary"
say "no cached emulator at $bin; building $module@$version from the Go module proxy ($(go env GOPROXY))"
say "about a minute on 2 cores"

work="$(mktemp -d "${TMPDIR:-/tmp}/lambda-rie-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export GOWORK=off CGO_ENABLED=0

if ! meta="$(cd "$work" && go mod download -json "$module@$version" 2>&1)"; then
  die "the Go module proxy refused $module@$version: $meta"
fi
src="$(printf '%s' "$meta" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$src" ]] || die "go mod download gave no source directory: $meta"
grep -q 'Apache License' "$src/LICENSE" || die "$src/LICENSE is not the Apache License; refusing to build"

GOBIN="$work/bin" go install -trimpath "$module/cmd/aws-lambda-rie@$version" 2>"$work/build.log" ||
  { cat "$work/build.log" >&2; die "go install $module/cmd/aws-lambda-rie@$version failed (output above)"; }

mkdir -p "$(dirname "$bin")"
cp "$src/LICENSE" "$(dirname "$bin")/LICENSE"
install -m 0755 "$work/bin/aws-lambda-rie" "$bin.tmp" && mv "$bin.tmp" "$bin"
say "built $bin"
echo "$bin"
