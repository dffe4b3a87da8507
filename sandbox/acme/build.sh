#!/usr/bin/env bash
# Builds (once) the test-only ACME server of the sandbox: pebble and pebble-challtestsrv from their
# Go module, cached outside the repo keyed by version. Prints the directory holding both binaries
# and pebble's test certificates (test/certs). Production needs neither: a real host talks to
# Let's Encrypt.
#
# One change to pebble: for a plain (non-wildcard) name it offers the challenges Let's Encrypt
# offers, http-01, tls-alpn-01 and dns-01, and not its drafts dns-account-01 and dns-persist-01.
# It lists challenges in a random order, and uacme 1.7.4 gives up on the whole authorization when
# it meets dns-persist-01 ("failed to parse challenge") before http-01: with two names, three
# orders in four failed.
set -euo pipefail
version=v2.10.3
dir="${SELFPAGES_CACHE:-$HOME/.cache/selfpages}/tools/pebble-$version-le-challenges"
ready() { [[ -x $dir/pebble && -x $dir/pebble-challtestsrv && -f $dir/certs/pebble.minica.pem ]]; }
if ready; then echo "$dir"; exit 0; fi
mkdir -p "$dir"
exec 9>"$dir/.build.lock"
flock 9
if ready; then echo "$dir"; exit 0; fi
echo "acme: building pebble $version" >&2
module=github.com/letsencrypt/pebble/v2
GOFLAGS=-mod=mod go mod download "$module@$version" >&2
src=$(GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"
file="$work/wfe/wfe.go"
old='enabledChallenges = []string{acme.ChallengeHTTP01, acme.ChallengeTLSALPN01, acme.ChallengeDNS01, acme.ChallengeDNSAccount01, acme.ChallengeDNSPersist01}'
new='enabledChallenges = []string{acme.ChallengeHTTP01, acme.ChallengeTLSALPN01, acme.ChallengeDNS01}'
grep -qF "$old" "$file" || { echo "acme: pebble $version's challenge list is not where expected" >&2; exit 1; }
sed -i "s/$(printf '%s' "$old" | sed 's/[][\.*^$/]/\\&/g')/$new/" "$file"
grep -qF "$new" "$file"
(cd "$work" && GOFLAGS=-mod=mod go build -o "$dir/pebble" ./cmd/pebble && GOFLAGS=-mod=mod go build -o "$dir/pebble-challtestsrv" ./cmd/pebble-challtestsrv) >&2
# pebble's own HTTPS certificate names only localhost and 127.0.0.1 (sandbox/acme/pebble.ts makes
# one for the gateway address); the root is kept for reference.
rm -rf "$dir/certs" && cp -r "$src/test/certs" "$dir/certs" && chmod -R u+w "$dir/certs"
echo "$dir"
