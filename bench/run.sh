#!/usr/bin/env bash
# `npm run bench`: every benchmark, one after another (minutes; never part of the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
for bench in generate ingest identity query clv; do
  echo "=== bench/$bench.ts"
  npx tsx "bench/$bench.ts"
done
