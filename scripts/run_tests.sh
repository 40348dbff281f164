#!/usr/bin/env bash
# `make test`: lint, then the whole suite against real services (Redis on loopback, the bundled model).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
if [ -x scripts/ensure_redis.sh ] || [ -f scripts/ensure_redis.sh ]; then
  eval "$(bash scripts/ensure_redis.sh)"
fi
export LITELLM_LOCAL_MODEL_COST_MAP=True
"$BIN/ruff" check .
"$BIN/pytest" -q "$@"
