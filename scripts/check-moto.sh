#!/usr/bin/env bash
# Starts moto_server on a free loopback port and waits until it answers; fails loudly otherwise.
set -euo pipefail
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
log="$(mktemp)"
moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  if curl -sf -o /dev/null -X POST "http://127.0.0.1:$port/moto-api/reset"; then
    echo "moto_server $(python3 -c 'import moto; print(moto.__version__)') answers on 127.0.0.1:$port"
    exit 0
  fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
echo "moto_server did not start:" >&2
cat "$log" >&2
exit 1
