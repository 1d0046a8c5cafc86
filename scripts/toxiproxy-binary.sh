#!/usr/bin/env bash
# Prints the path of a toxiproxy server binary for the chaos tests (`npm run chaos`, test/integration/chaos*).
#
# Order: $TOXIPROXY_BIN if set, else a cached build, else `go install` from the Go module proxy.
# toxiproxy (Shopify, MIT) is the standard TCP chaos proxy: latency, timeouts, resets, slow_close,
# bandwidth, limit_data, and a proxy that can be disabled and re-enabled (a dependency down and back).
# No registry we reach ships its binary, so it is built like Consul (scripts/consul-binary.sh).
#
# Progress goes to stderr; stdout carries only the path, so `$(bash scripts/toxiproxy-binary.sh)` works.
set -euo pipefail

say() { printf '[toxiproxy-binary] %s\n' "$*" >&2; }
die() { printf '[toxiproxy-binary] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -n "${TOXIPROXY_BIN:-}" ]]; then
  [[ -x "$TOXIPROXY_BIN" ]] || die "TOXIPROXY_BIN=$TOXIPROXY_BIN is not an executable file"
  echo "$TOXIPROXY_BIN"
  exit 0
fi

version="v2.5.0"
cache_root="${CONSUL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/consul-peering-automation}"
bin="$cache_root/toxiproxy-$version/toxiproxy-server"
# Capture first: `… | grep -q` under pipefail fails at random when grep closes the pipe early.
reports_version() { local out; out="$("$1" -version 2>&1)" && [[ "$out" == *"${version#v}"* ]]; }
if [[ -x "$bin" ]] && reports_version "$bin"; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || die "Go is not installed; install Go >= 1.20, or point TOXIPROXY_BIN at a toxiproxy-server binary"
say "no cached toxiproxy $version at $bin; building it from the Go module proxy ($(go env GOPROXY))"

work="$(mktemp -d "${TMPDIR:-/tmp}/toxiproxy-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# The module's own main package is `cmd/server`, so the binary go install makes is named `server`.
# -ldflags sets the version string the binary reports (its Makefile does the same; `go install` alone leaves it "git").
GOBIN="$work" CGO_ENABLED=0 GOWORK=off GOFLAGS="${GOFLAGS:-}" go install -trimpath \
  -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=${version#v}" \
  "github.com/Shopify/toxiproxy/v2/cmd/server@$version" 2>"$work/build.log" ||
  { cat "$work/build.log" >&2; die "go install github.com/Shopify/toxiproxy/v2/cmd/server@$version failed (output above)"; }
[[ -x "$work/server" ]] || die "go install produced no $work/server"
reports_version "$work/server" || die "the built binary does not report toxiproxy $version: $("$work/server" -version 2>&1)"

mkdir -p "$(dirname "$bin")"
src="$(go env GOMODCACHE)/github.com/!shopify/toxiproxy/v2@$version"
[[ -f "$src/LICENSE" ]] && cp "$src/LICENSE" "$(dirname "$bin")/LICENSE"
install -m 0755 "$work/server" "$bin.tmp" && mv "$bin.tmp" "$bin"
say "built toxiproxy $version -> $bin"
echo "$bin"
