#!/usr/bin/env bash
# Removes sandbox host NAME: its processes, mounts, network namespace, veths (and its sandbox's
# LAN when it is the last host on it) and files. Idempotent.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"

bash "$here/origin-daemon.sh" "$instance_name" stop
if pid=$(instance_pid); then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
fi
# Anything still running inside the network namespace (it should be gone with PID 1).
for p in $(ip netns pids "$netns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
# Off its sandbox's LAN (the last host removes the LAN).
bash "$here/lan.sh" "$instance_name" leave
ip netns del "$netns" 2>/dev/null
# Deleting the namespace deletes the veth pair; the host end is deleted here only when up.sh
# recorded the subnet (a crash between its creation and the move), never from the name alone:
# another instance may hold the subnet this name derives.
[[ -f $state/subnet ]] && ip link del "$host_side" 2>/dev/null
# Mounts live in the host's private mount namespace; check nothing leaked into ours.
if grep -q " $state/" /proc/mounts; then
    grep " $state/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l
fi
rm -rf "$state"
exit 0
