#!/usr/bin/env bash
# Builds (once) the sandbox host's root filesystem: Debian bookworm with OpenRC as its only init,
# sshd, nginx with its brotli_static module, git, brotli, webhook, cron and uacme (the ACME client), cached as a tarball outside the repo. Prints its path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache="${SELFPAGES_CACHE:-$HOME/.cache/selfpages}/rootfs"
packages=openssh-server,openrc,nginx,git,webhook,cron,busybox,ca-certificates,procps,iproute2,curl,util-linux,gzip,psmisc,uacme,openssl,brotli,libnginx-mod-http-brotli-static
key=$(printf '%s\n' "$packages" "$(cat "$here/rootfs.sh")" | sha256sum | cut -c1-16)
tarball="$cache/bookworm-$key.tar.zst"
if [[ -f $tarball ]]; then echo "$tarball"; exit 0; fi

mkdir -p "$cache"
exec 9>"$cache/.build.lock"
flock 9
if [[ -f $tarball ]]; then echo "$tarball"; exit 0; fi

# The mirror this machine's apt uses (the only one reachable).
mirror=$( (apt-cache policy 2>/dev/null || true) | grep -oE 'https?://[^[:space:]]+' | grep -E '/debian/?$' | head -n 1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "rootfs: debootstrap bookworm from $mirror (a few minutes, once)" >&2
# sysvinit-core would be pulled by openrc's dependencies on some releases; OpenRC must be the init.
debootstrap --variant=minbase --include="$packages" bookworm "$work/root" "$mirror" >&2
# No service may start from a package script during the build, and none at boot but OpenRC's.
printf '#!/bin/sh\nexit 101\n' >"$work/root/usr/sbin/policy-rc.d"
chmod +x "$work/root/usr/sbin/policy-rc.d"
rm -f "$work/root/etc/ssh/ssh_host_"*
# Keep apt usable offline: a re-run of the program's `apt-get install` of installed packages is a no-op.
chroot "$work/root" apt-get clean
tar -C "$work/root" --numeric-owner -cf - . | zstd -q -T0 -o "$work/rootfs.tar.zst"
mv "$work/rootfs.tar.zst" "$tarball"
echo "$tarball"
