#!/usr/bin/env bash
# Starts a sandbox host NAME: a Debian rootfs with OpenRC as init, in its own network, PID, mount
# and UTS namespaces, reachable over SSH at 10.233.N.2, with a git origin served at
# git://10.233.N.1/site.git. Prints the path of its host.json. Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"

if instance_pid >/dev/null; then echo "$state/host.json"; exit 0; fi
# A half-started or crashed instance is removed first.
bash "$here/down.sh" "$instance_name" >/dev/null 2>&1 || true

tarball=$(bash "$here/rootfs.sh")
root="$state/rootfs"
mkdir -p "$root" "$state/origin"
# A /24 no other instance holds.
if [[ -z ${SANDBOX_SUBNET:-} ]]; then
    for _ in $(seq 1 200); do
        subnet_taken "$subnet" || break
        set_subnet $((16 + (subnet - 16 + 1) % 200))
    done
fi
subnet_taken "$subnet" && { echo "sandbox: subnet 10.233.$subnet.0/24 is taken" >&2; exit 1; }
echo "$subnet" >"$state/subnet"
zstd -dc "$tarball" | tar -C "$root" --numeric-owner -xf -

# Keys: a host key pinned by the stack, and a client key for root.
ssh-keygen -q -t ed25519 -N '' -C "sandbox-$instance_name" -f "$root/etc/ssh/ssh_host_ed25519_key"
ssh-keygen -q -t ed25519 -N '' -C "selfpages-sandbox" -f "$state/id_ed25519"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$state/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
cat >"$root/etc/ssh/sshd_config.d/sandbox.conf" <<CONF
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
UsePAM no
CONF
echo "sandbox-$instance_name" >"$root/etc/hostname"
printf '127.0.0.1 localhost\n%s sandbox-%s\n' "$address" "$instance_name" >"$root/etc/hosts"

# PID 1 of the host: mounts what a booted system has, then lets OpenRC start the default runlevel.
cat >"$root/sbin/sandbox-init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys 2>/dev/null || true
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/openrc /run/lock /run/sshd
touch /run/openrc/softlevel
hostname "$(cat /etc/hostname)"
openrc default >/var/log/sandbox-boot.log 2>&1
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
INIT
chmod 0755 "$root/sbin/sandbox-init"

# Network: a veth pair, the guest end inside the host's namespace.
ip netns add "$netns"
ip link add "$host_side" type veth peer name "$guest_side"
ip link set "$guest_side" netns "$netns"
ip addr add "$gateway/24" dev "$host_side"
ip link set "$host_side" up
ip -n "$netns" addr add "$address/24" dev "$guest_side"
ip -n "$netns" link set "$guest_side" up
ip -n "$netns" link set lo up
ip -n "$netns" route add default via "$gateway"

# The host itself. --kill-child: when the launcher dies, PID 1 dies, and with it every process
# and mount of the host's namespaces.
setsid ip netns exec "$netns" unshare --pid --fork --kill-child --mount --uts --ipc --propagation private \
    sh -c "mount --rbind /dev '$root/dev' && exec chroot '$root' /sbin/sandbox-init" \
    </dev/null >"$state/console.log" 2>&1 &
echo $! >"$state/init.pid"

# The site's git origin, on the gateway address, as GitHub would serve it.
bash "$here/origin.sh" "$state/origin/site.git" >/dev/null
bash "$here/origin-daemon.sh" "$instance_name" start

# Wait for sshd.
host_key=""
for _ in $(seq 1 100); do
    host_key=$(ssh-keyscan -T 2 -t ed25519 "$address" 2>/dev/null | awk '{print $2" "$3}' | head -n 1) || true
    [[ -n $host_key ]] && break
    sleep 0.2
done
[[ -n $host_key ]] || { echo "sandbox: sshd did not answer on $address; see $state/console.log and $root/var/log/sandbox-boot.log" >&2; exit 1; }

cat >"$state/host.json" <<JSON
{
  "name": "$instance_name",
  "address": "$address",
  "port": 22,
  "user": "root",
  "privateKeyPath": "$state/id_ed25519",
  "publicKey": "$(cat "$state/id_ed25519.pub")",
  "hostKey": "$host_key",
  "gatewayAddress": "$gateway",
  "originUrl": "git://$gateway/site.git",
  "originPath": "$state/origin/site.git",
  "rootfs": "$root",
  "netns": "$netns"
}
JSON
echo "$state/host.json"
