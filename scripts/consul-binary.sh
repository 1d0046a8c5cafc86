#!/usr/bin/env bash
# Prints the path of a Consul binary for the integration tests and the demo.
#
# Order: $CONSUL_BIN if set, else a cached build, else build Consul from the Go module proxy.
# Why build: no registry we can reach ships a Consul binary. Why 1.14.x: it is the newest line that
# is MPL-2.0 *and* builds without the envoyextensions/troubleshoot modules (1.15/1.16 need them,
# 1.17+ is BUSL). The proxy's version list does not enumerate Consul's tags, so the version is
# pinned here (v1.14.11 is the last 1.14 release) and can be overridden with CONSUL_VERSION=v1.14.x.
#
# Progress goes to stderr; stdout carries only the path, so `$(npm run -s consul:path)` works.
set -euo pipefail

say() { printf '[consul-binary] %s\n' "$*" >&2; }
die() { printf '[consul-binary] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -n "${CONSUL_BIN:-}" ]]; then
  [[ -x "$CONSUL_BIN" ]] || die "CONSUL_BIN=$CONSUL_BIN is not an executable file"
  echo "$CONSUL_BIN"
  exit 0
fi

version="${CONSUL_VERSION:-v1.14.11}"
[[ "$version" =~ ^v1\.14\.[0-9]+$ ]] ||
  die "CONSUL_VERSION=$version: only v1.14.x can be built here (1.15/1.16 need modules we may not use; 1.17+ is BUSL-1.1)"

cache_root="${CONSUL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/consul-peering-automation}"
bin="$cache_root/consul-$version/consul"
# Capture first: `consul version | grep -q` under pipefail fails at random when grep closes the pipe early.
reports_version() { local out; out="$("$1" version 2>/dev/null)" && [[ "$out" == "Consul ${version}"* ]]; }
if [[ -x "$bin" ]] && reports_version "$bin"; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || die "Go is not installed; install Go >= 1.20, or point CONSUL_BIN at a consul binary"
say "no cached Consul $version at $bin; building it from the Go module proxy ($(go env GOPROXY))"
say "a cold build takes 10-20 minutes on 2 cores and fills 1-3 GB of Go module cache"

work="$(mktemp -d "${TMPDIR:-/tmp}/consul-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
export GOFLAGS="${GOFLAGS:-} -mod=mod" CGO_ENABLED=0 GOWORK=off

say "step 1/4: downloading github.com/hashicorp/consul@$version"
if ! meta="$(go mod download -json "github.com/hashicorp/consul@$version" 2>&1)"; then
  die "the Go module proxy refused github.com/hashicorp/consul@$version: $meta"
fi
src="$(printf '%s' "$meta" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$src" ]] || die "go mod download gave no source directory: $meta"

# Licence gate: refuse anything that is not MPL-2.0 (the BUSL releases must never be built).
grep -q 'Mozilla Public License, version 2.0' "$src/LICENSE" ||
  die "$src/LICENSE is not the Mozilla Public License 2.0; refusing to build $version"
say "licence check: $src/LICENSE is MPL-2.0"

say "step 2/4: preparing a throwaway wrapper module in $work"
go mod init consul-build >/dev/null 2>&1
# Consul's own go.mod has replace directives (./api, ./sdk, ./proto-public) that only apply when it is
# the main module, so `go install consul@vX` fails. In a wrapper we pin the submodules to the versions
# the tag requires and copy its exclude lines (without them MVS can pick module versions that do not compile).
awk '/^exclude[[:space:]]*\(/{inblock=1; print; next} inblock{print; if ($0 ~ /^\)/) inblock=0; next} /^exclude[[:space:]]/{print}' \
  "$src/go.mod" >>go.mod
for sub in api sdk proto-public; do
  want="$(awk -v m="github.com/hashicorp/consul/$sub" '$1==m && $2 ~ /^v/ {print $2; exit}' "$src/go.mod")"
  [[ -n "$want" ]] || die "Consul $version's go.mod does not require the $sub submodule; cannot pin it"
  say "  pinning github.com/hashicorp/consul/$sub@$want"
  go get "github.com/hashicorp/consul/$sub@$want" >>"$work/get.log" 2>&1 ||
    { cat "$work/get.log" >&2; die "go get github.com/hashicorp/consul/$sub@$want failed (output above)"; }
done

say "step 3/4: resolving Consul's dependency graph"
go get "github.com/hashicorp/consul@$version" >>"$work/get.log" 2>&1 ||
  { cat "$work/get.log" >&2; die "go get github.com/hashicorp/consul@$version failed (output above)"; }
say "  $(grep -c '^go: added' "$work/get.log") modules resolved"

build() {
  go build -trimpath \
    -ldflags "-X github.com/hashicorp/consul/version.GitCommit=module-proxy-$version" \
    -o "$work/consul" github.com/hashicorp/consul 2>"$work/build.log"
}

say "step 4/4: compiling (the long part; progress dots every 30 s)"
( while sleep 30; do printf '.' >&2; done ) &
ticker=$!
if ! build; then
  if grep -q 'syscall.recvmsg' "$work/build.log"; then
    # Old golang.org/x/net does not link with newer Go toolchains.
    say "link failed on an old golang.org/x/net; retrying with golang.org/x/net@v0.17.0"
    go get golang.org/x/net@v0.17.0 >>"$work/get.log" 2>&1
    build || { kill $ticker; cat "$work/build.log" >&2; die "go build failed (output above)"; }
  else
    kill $ticker; cat "$work/build.log" >&2; die "go build failed (output above)"
  fi
fi
kill $ticker 2>/dev/null || true
printf '\n' >&2

reports_version "$work/consul" || die "the built binary does not report Consul $version"
mkdir -p "$(dirname "$bin")"
cp "$src/LICENSE" "$(dirname "$bin")/LICENSE"
install -m 0755 "$work/consul" "$bin.tmp" && mv "$bin.tmp" "$bin"
say "built $("$bin" version | head -1) -> $bin"
echo "$bin"
