#!/usr/bin/env bash
# Starts or stops the git daemon that serves sandbox host NAME's origin on its gateway address:
#   origin-daemon.sh NAME start|stop
# (stop is also how the fault drills make the origin unreachable).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
case ${2:-} in
start)
    # Not `git daemon --listen`: it listens with a backlog of 5, which a fleet's servers fetching at
    # once (an ls-remote and a fetch each) overflowed; each dropped SYN cost a second, TCP's first
    # retransmission (1.1 s pushes in bench/results.json's fleet). socat accepts with a backlog no
    # public git host falls short of and runs git daemon per connection, as inetd would.
    setsid socat "TCP-LISTEN:9418,bind=$gateway,reuseaddr,fork,backlog=256" \
        "EXEC:git daemon --inetd --export-all --base-path=$state/origin $state/origin" </dev/null >/dev/null 2>&1 &
    echo $! >"$state/git-daemon.pid"
    for _ in $(seq 100); do
        ss -Hltn "sport = :9418" | grep -qF "$gateway:9418" && exit 0
        sleep 0.05
    done
    echo "origin-daemon: nothing listens on $gateway:9418 after 5 s" >&2
    exit 1
    ;;
stop)
    if [[ -f $state/git-daemon.pid ]]; then kill "$(<"$state/git-daemon.pid")" 2>/dev/null || true; rm -f "$state/git-daemon.pid"; fi
    ;;
*) echo "usage: origin-daemon.sh NAME start|stop" >&2; exit 2 ;;
esac
