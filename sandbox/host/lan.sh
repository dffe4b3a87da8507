#!/usr/bin/env bash
# The LAN of a sandbox of several hosts, so that its hosts reach each other at their own addresses
# (a fleet's servers talk to each other) with no forwarding in this machine's namespace, whose
# ip_forward stays as it is:
#   lan.sh NAME join LAN   puts host NAME on LAN (idempotent; creates the LAN with its first host)
#   lan.sh NAME leave      takes it off (down.sh does); the last host to leave removes the LAN
# The LAN is a bridge in a namespace of its own (spl-LAN), nothing of it in this machine's. Each
# host has a second veth on it (lan0, no address) and a /32 route through it to every other host:
# a host answers ARP for its address on any of its interfaces, so each is reached at 10.233.N.2,
# the address it is SSH'd at, while the gateway (origin, stand-in, pebble) stays on the first veth.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
port="p$subnet"

# Whether sandbox host $1 (a state directory's name) is a running member of LAN $2.
member_of() {
    [[ -f $state_root/$1/lan && $(<"$state_root/$1/lan") == "$2" && -f $state_root/$1/subnet ]] &&
        ip -n "spl-$2" link show "p$(<"$state_root/$1/subnet")" >/dev/null 2>&1
}

leave() {
    [[ -f $state/lan ]] || return 0
    local lan_ns
    lan_ns="spl-$(<"$state/lan")"
    # Deleting the port deletes its pair, lan0, now: a deleted namespace frees its links later.
    ip -n "$lan_ns" link del "$port" 2>/dev/null || true
    rm -f "$state/lan"
    if [[ -e /run/netns/$lan_ns && -z $(ip -n "$lan_ns" -o link show master br0 2>/dev/null) ]]; then
        ip netns del "$lan_ns"
    fi
}

join() {
    local lan=$1 lan_ns="spl-$1" peer peer_address
    [[ $lan =~ ^[a-z0-9-]{1,12}$ ]] || { echo "sandbox: LAN name must be 1-12 of [a-z0-9-]" >&2; exit 2; }
    [[ -e /run/netns/$netns ]] || { echo "sandbox: $instance_name is not running" >&2; exit 1; }
    if [[ -f $state/lan && $(<"$state/lan") != "$lan" ]]; then leave; fi
    if [[ ! -e /run/netns/$lan_ns ]]; then
        ip netns add "$lan_ns"
        ip -n "$lan_ns" link add br0 type bridge
        ip -n "$lan_ns" link set br0 up
    fi
    echo "$lan" >"$state/lan"
    if ! ip -n "$lan_ns" link show "$port" >/dev/null 2>&1; then
        ip link add lan0 netns "$netns" type veth peer name "$port" netns "$lan_ns"
        ip -n "$lan_ns" link set "$port" master br0 up
        ip -n "$netns" link set lan0 up
        # Answering ARP for the host's address on lan0 is the default; a new namespace inherits this
        # machine's defaults, which may say otherwise: set in the host's namespace, nowhere else.
        ip netns exec "$netns" sysctl -qw net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.lan0.arp_ignore=0
    fi
    for dir in "$state_root"/*/; do
        peer=$(basename "$dir")
        if [[ $peer == "$instance_name" ]] || ! member_of "$peer" "$lan"; then continue; fi
        peer_address="10.233.$(<"$state_root/$peer/subnet").2"
        ip -n "$netns" route replace "$peer_address/32" dev lan0 src "$address"
        ip -n "sp-$peer" route replace "$address/32" dev lan0 src "$peer_address"
    done
}

case ${2:-} in
join) join "${3:?usage: lan.sh NAME join LAN}" ;;
leave) leave ;;
*) echo "usage: lan.sh NAME join LAN | lan.sh NAME leave" >&2; exit 2 ;;
esac
