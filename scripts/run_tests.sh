#!/usr/bin/env bash
# `make test`: lint, then the whole suite against real services (Redis on loopback, the bundled model).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
if [ -x scripts/ensure_redis.sh ] || [ -f scripts/ensure_redis.sh ]; then
  redis_env=$(bash scripts/ensure_redis.sh)  # fails the run under CI=true when no Redis can be had
  eval "$redis_env"
fi
export LITELLM_LOCAL_MODEL_COST_MAP=True
"$BIN/ruff" check .
"$BIN/pytest" -q "$@"
