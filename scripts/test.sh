#!/usr/bin/env bash
# The whole test command: lint, type check, then every *.test.ts under src/ with node's test runner (via tsx).
# Node 20's --test does not expand globs, so the files are listed here. Node's runner prints the closing
# spec report for people and ends with the plain `N passed, N failed` line CI reads.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== lint (eslint + typescript-eslint)"
npx eslint --max-warnings 0 .
echo "== type check (tsc --noEmit, strict)"
npx tsc -p .
npx tsc -p web
echo "== console build (vite)"
npx vite build web --logLevel warn
echo "== tests"
mapfile -t files < <(find src -name '*.test.ts' -not -path '*/node_modules/*' | sort)
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
status=0
node --import tsx --test --test-concurrency=2 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "$@" "${files[@]}" || status=$?
pass=$(grep -E '^# pass ' "$tap" | awk '{print $3}')
fail=$(grep -E '^# fail ' "$tap" | awk '{print $3}')
# Skipped tests and skipped suites (a suite skipped for missing reference data counts no skipped test in the totals).
skipped=$(grep -cE '^\s*ok [0-9]+ - .* # SKIP' "$tap" || true)
# A failing before hook fails its suite and cancels its tests without failing one: those count as failed.
cancelled=$(grep -E '^# cancelled ' "$tap" | awk '{print $3}')
fail=$(( ${fail:-0} + ${cancelled:-0} ))
echo "${pass:-0} passed, ${fail:-0} failed, ${skipped:-0} skipped"
exit "$status"
