#!/usr/bin/env bash
# Installs what the project needs on this machine, each step only when missing, so it is cheap to
# run before every command: Debian packages (the real tools the tests run), npm packages, and the
# Pulumi toolchain built from Go modules (cached outside the repo, see toolchain/).
#   scripts/ensure-deps.sh            everything
#   scripts/ensure-deps.sh --unit     no Pulumi toolchain (unit tests need none)
set -euo pipefail
cd "$(dirname "$0")/.."

# nginx (nginx -t and live config tests), webhook (the receiver, run for real on loopback),
# busybox (Alpine's userland for the sync script), shellcheck, shfmt (test/alpine parses the shell
# programs with it), and what the sandbox host needs; brotli and nginx's brotli_static module (the
# sync's precompression, the rendered nginx config).
debian_packages=(nginx webhook busybox shellcheck shfmt git socat util-linux debootstrap zstd iproute2 openssh-client curl ca-certificates wrk brotli libnginx-mod-http-brotli-static)
# The real site the benchmark publishes: Python's HTML documentation (not needed by unit tests).
if [[ ${1:-} != --unit ]]; then debian_packages+=(python3.11-doc); fi

missing=()
for pkg in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
    as_root=()
    if [[ $(id -u) != 0 ]]; then
        # A CI runner or a workstation: passwordless sudo, or the user is told what to install.
        if sudo -n true 2>/dev/null; then
            as_root=(sudo -n)
        else
            echo "ensure-deps: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
            exit 1
        fi
    fi
    echo "ensure-deps: installing ${missing[*]}" >&2
    # The nginx package must not start a server on port 80 of this machine: the tests run their own.
    policy=/usr/sbin/policy-rc.d
    restore_policy=0
    if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null; "${as_root[@]}" chmod +x "$policy"; restore_policy=1; fi
    "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >&2
    if ((restore_policy)); then "${as_root[@]}" rm -f "$policy"; fi
fi

# npm packages at the lockfile's versions, when node_modules is missing or older than the lockfile.
# (`npm install`, not `npm ci`: npm 11 writes no lock entries for rollup's optional platform
# packages, and `npm ci` then refuses the lockfile it wrote itself.)
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
    echo "ensure-deps: npm install (from package-lock.json)" >&2
    npm install --no-audit --no-fund >&2
fi

# actionlint checks .github/workflows in the unit tests; built once from its Go module.
actionlint_version=v1.7.7
actionlint_bin="${SELFPAGES_CACHE:-$HOME/.cache/selfpages}/tools/actionlint-$actionlint_version/actionlint"
if [[ ! -x $actionlint_bin ]]; then
    echo "ensure-deps: building actionlint $actionlint_version" >&2
    GOBIN=$(dirname "$actionlint_bin") GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$actionlint_version" >&2
fi

if [[ ${1:-} != --unit ]]; then
    # The program Pulumi runs, compiled into dist/ (only when a source is newer than the build).
    node program.js --build
    bash toolchain/build.sh >/dev/null
    # pebble and pebble-challtestsrv: the sandbox's ACME server and DNS (end-to-end HTTPS tests only).
    bash sandbox/acme/build.sh >/dev/null
fi
