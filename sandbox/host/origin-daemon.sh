#!/usr/bin/env bash
# Starts or stops the git daemon that serves sandbox host NAME's origin on its gateway address:
#   origin-daemon.sh NAME start|stop
# (stop is also how the fault drills make the origin unreachable).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
case ${2:-} in
start)
    git daemon --reuseaddr --listen="$gateway" --port=9418 --export-all --base-path="$state/origin" \
        --detach --pid-file="$state/git-daemon.pid" "$state/origin"
    ;;
stop)
    if [[ -f $state/git-daemon.pid ]]; then kill "$(<"$state/git-daemon.pid")" 2>/dev/null || true; rm -f "$state/git-daemon.pid"; fi
    ;;
*) echo "usage: origin-daemon.sh NAME start|stop" >&2; exit 2 ;;
esac
