#!/usr/bin/env bash
# Print `export THINKROUTE_TEST_REDIS_URL=...` for the test suite: the given URL, the local Redis on
# 127.0.0.1:6379 (database 15), or a redis-server started here on a free port. Under CI=true a
# missing Redis is an error; elsewhere the Redis tests skip.
set -euo pipefail
if [ -n "${THINKROUTE_TEST_REDIS_URL:-}" ]; then
  echo "export THINKROUTE_TEST_REDIS_URL='${THINKROUTE_TEST_REDIS_URL}'"
  exit 0
fi
ping() { python3 - "$1" <<'PY'
import socket, sys
host, port = "127.0.0.1", int(sys.argv[1])
try:
    with socket.create_connection((host, port), timeout=1) as s:
        s.sendall(b"PING\r\n")
        sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}
if ping 6379; then
  echo "export THINKROUTE_TEST_REDIS_URL='redis://127.0.0.1:6379/15'"
  exit 0
fi
if command -v redis-server >/dev/null 2>&1; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  dir=$(mktemp -d)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize yes >/dev/null
  for _ in $(seq 50); do ping "$port" && break; sleep 0.1; done
  echo "started redis-server on 127.0.0.1:$port for the tests" >&2
  echo "export THINKROUTE_TEST_REDIS_URL='redis://127.0.0.1:$port/15'"
  exit 0
fi
if [ "${CI:-}" = "true" ]; then
  echo "error: no Redis reachable and redis-server is not installed (required under CI=true)" >&2
  exit 1
fi
echo "warning: no Redis reachable; Redis tests will be skipped" >&2
