# Shared by the sandbox host scripts: where an instance lives and how it is named.
# shellcheck shell=bash
instance_name=${1:?usage: $0 NAME}
[[ $instance_name =~ ^[a-z0-9-]{1,12}$ ]] || { echo "sandbox: name must be 1-12 of [a-z0-9-]" >&2; exit 2; }
state_root=${SELFPAGES_STATE:-/var/lib/selfpages-sandbox}
state="$state_root/$instance_name"
netns="sp-$instance_name"
# One /24 per instance so several can run at once: derived from the name, SANDBOX_SUBNET overrides
# it, and up.sh records the one it took (the next free one when another instance holds it).
set_subnet() {
    subnet=$1
    host_side="sp${subnet}h"
    guest_side="sp${subnet}g"
    gateway="10.233.$subnet.1"
    address="10.233.$subnet.2"
}
if [[ -f $state/subnet ]]; then
    set_subnet "$(<"$state/subnet")"
else
    set_subnet "${SANDBOX_SUBNET:-$((16 + $(printf '%s' "$instance_name" | cksum | cut -d' ' -f1) % 200))}"
fi

# Whether another interface of this machine holds the gateway address of subnet $1.
# (Not `ip | grep -q`: under pipefail, grep's early exit fails ip with SIGPIPE, and a taken subnet reads as free.)
subnet_taken() {
    [[ $(ip -4 -o addr show) == *" 10.233.$1.1/"* ]]
}

instance_pid() {
    [[ -f $state/init.pid ]] || return 1
    local pid
    pid=$(<"$state/init.pid")
    kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# PID (as seen from here) of the host's PID 1, the process whose namespaces exec.sh enters.
guest_init_pid() {
    local parent
    parent=$(instance_pid) || return 1
    pgrep -P "$parent" | head -n 1
}
