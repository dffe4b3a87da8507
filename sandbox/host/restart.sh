#!/usr/bin/env bash
# Simulates a reboot of sandbox host NAME: every service stops, every process but PID 1 dies,
# then OpenRC starts the default runlevel again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/exec.sh" "$1" sh -c '
    openrc shutdown >/dev/null 2>&1 || true
    for p in $(ps -eo pid= | tr -d " "); do [ "$p" -gt 1 ] && [ "$p" != $$ ] && kill -KILL "$p" 2>/dev/null; done
    rm -rf /run/openrc && mkdir -p /run/openrc /run/sshd && touch /run/openrc/softlevel
    openrc default >/var/log/sandbox-boot.log 2>&1
'
