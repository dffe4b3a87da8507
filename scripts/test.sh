#!/usr/bin/env bash
# The README's test command (`npm test`): installs what is missing, type-checks, then runs the unit
# tests and the end-to-end suite against a sandbox host, and prints one closing summary line.
#   scripts/test.sh [unit|e2e|all]
set -euo pipefail
cd "$(dirname "$0")/.."
scope=${1:-all}

if [[ $scope == unit ]]; then
    bash scripts/ensure-deps.sh --unit
else
    bash scripts/ensure-deps.sh
    # The sandbox host's rootfs (debootstrap, minutes when cold) is built before any test starts:
    # built from inside a vitest worker, its synchronous run blocks the worker's event loop past
    # vitest's RPC timeout ("Timeout calling onTaskUpdate").
    bash sandbox/host/rootfs.sh >/dev/null
fi
npx tsc --noEmit -p .

report=$(mktemp -t selfpages-vitest.XXXXXX.json)
trap 'rm -f "$report"' EXIT
projects=()
case $scope in
    unit) projects=(--project unit) ;;
    e2e) projects=(--project e2e) ;;
    all) ;;
    *) echo "usage: scripts/test.sh [unit|e2e|all]" >&2; exit 2 ;;
esac
status=0
npx vitest run "${projects[@]}" --reporter=default --reporter=json --outputFile="$report" || status=$?
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
if (r.numTotalTests === 0) process.exit(1);
' "$report" || status=1
exit $status
