#!/usr/bin/env bash
# Builds (once) the test-only ACME server of the sandbox: pebble and pebble-challtestsrv from their
# Go module, cached outside the repo keyed by version. Prints the directory holding both binaries
# and pebble's test certificates (test/certs: its own HTTPS directory certificate and root).
# Production needs neither: a real host talks to Let's Encrypt.
set -euo pipefail
version=v2.10.3
dir="${SELFPAGES_CACHE:-$HOME/.cache/selfpages}/tools/pebble-$version"
if [[ -x $dir/pebble && -x $dir/pebble-challtestsrv && -f $dir/certs/pebble.minica.pem ]]; then echo "$dir"; exit 0; fi
mkdir -p "$dir"
exec 9>"$dir/.build.lock"
flock 9
if [[ -x $dir/pebble && -x $dir/pebble-challtestsrv && -f $dir/certs/pebble.minica.pem ]]; then echo "$dir"; exit 0; fi
echo "acme: building pebble $version" >&2
GOBIN="$dir" GOFLAGS=-mod=mod go install "github.com/letsencrypt/pebble/v2/cmd/pebble@$version" "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$version" >&2
# The module's test certificates: pebble serves its directory with localhost/{cert,key}.pem, which
# chains to pebble.minica.pem and names localhost, 127.0.0.1 and nothing else.
src=$(GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' "github.com/letsencrypt/pebble/v2@$version" 2>/dev/null || true)
if [[ -z $src || ! -d $src ]]; then src="$(go env GOMODCACHE)/github.com/letsencrypt/pebble/v2@$version"; fi
rm -rf "$dir/certs.tmp" && mkdir -p "$dir/certs.tmp"
cp -r "$src/test/certs/." "$dir/certs.tmp/"
chmod -R u+w "$dir/certs.tmp"
rm -rf "$dir/certs" && mv "$dir/certs.tmp" "$dir/certs"
echo "$dir"
