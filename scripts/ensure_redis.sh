#!/usr/bin/env bash
# Make a Redis available to the test suite; prints `export THINKROUTE_TEST_REDIS_URL=...` for `eval`.
#   1. THINKROUTE_TEST_REDIS_URL already set: use it.
#   2. A Redis answers PING on 127.0.0.1:6379: use its database 15.
#   3. redis-server is installed: start one on a free port (daemonized, no persistence, in a temp dir).
#   4. Otherwise: under CI=true, fail; elsewhere warn (tests that need Redis skip).
# Messages go to stderr; only the export line goes to stdout.
set -euo pipefail

emit() { printf 'export THINKROUTE_TEST_REDIS_URL=%q\n' "$1"; }

if [ -n "${THINKROUTE_TEST_REDIS_URL:-}" ]; then
  emit "$THINKROUTE_TEST_REDIS_URL"
  exit 0
fi

PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python

ping_port() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]
    return
  fi
  "$PY" - "$1" <<'PY'
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1) as s:
        s.sendall(b"PING\r\n")
        sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

if ping_port 6379; then
  emit "redis://127.0.0.1:6379/15"
  exit 0
fi

if command -v redis-server >/dev/null 2>&1; then
  port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  dir=$(mktemp -d "${TMPDIR:-/tmp}/thinkroute-redis.XXXXXX")
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 100); do
    if ping_port "$port"; then
      echo "started redis-server on 127.0.0.1:$port for the tests (stop: kill \$(cat $dir/redis.pid))" >&2
      emit "redis://127.0.0.1:$port/15"
      exit 0
    fi
    sleep 0.05
  done
  echo "error: redis-server on port $port did not answer; see $dir/redis.log" >&2
  exit 1
fi

if [ "${CI:-}" = "true" ]; then
  echo "error: no Redis on 127.0.0.1:6379 and redis-server is not installed; CI=true requires Redis" \
       "(install redis-server or set THINKROUTE_TEST_REDIS_URL)" >&2
  exit 1
fi
echo "warning: no Redis reachable and redis-server not installed; tests that need Redis will be skipped" >&2
