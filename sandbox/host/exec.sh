#!/usr/bin/env bash
# Runs a command inside sandbox host NAME as root, outside SSH: exec.sh NAME CMD [ARGS...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
shift
pid=$(guest_init_pid) || { echo "sandbox: $instance_name is not running" >&2; exit 1; }
exec nsenter --target "$pid" --net --pid --mount --uts --ipc --root --wdns=/ env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
