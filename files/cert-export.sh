#!/bin/sh
# Managed by selfpages (Pulumi): `pulumi up` overwrites local changes.
# On a fleet's lead (the server that orders every certificate): prints the current certificates,
# a tar stream of <site>/fullchain.pem and <site>/privkey.pem for each site whose certificate uacme
# holds. It is the forced command of the peers' keys in root's authorized_keys, so a peer's key can
# run nothing else; what the peer asked to run is ignored. The stream goes to the peer over that
# SSH connection only: nothing is written outside a private temporary directory.
# Exit status: 0 stream printed (sites without a certificate yet are left out), 1 failed.
set -u
# Its parameters (ACME_DIR, CERTIFICATES: site=first-name pairs) come from a small file the stack
# renders (templates/cert-export.conf.hbs); the tests point SELFPAGES_CERT_EXPORT_CONF at their own.
# shellcheck source=/dev/null
. "${SELFPAGES_CERT_EXPORT_CONF:-/etc/selfpages/cert-export.conf}"
: "${ACME_DIR:?is not set in cert-export.conf}" "${CERTIFICATES?is not set in cert-export.conf}"
umask 077
cd / || exit 1
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

set -f
for entry in $CERTIFICATES; do
    site=${entry%%=*}
    first=${entry#*=}
    # uacme's own copies: the issued certificate (with its chain) and its key, never the account key.
    cert="$ACME_DIR/$first/cert.pem"
    key="$ACME_DIR/private/$first/key.pem"
    if [ ! -s "$cert" ] || [ ! -s "$key" ]; then continue; fi
    mkdir "$work/$site" && cp "$cert" "$work/$site/fullchain.pem" && cp "$key" "$work/$site/privkey.pem" || exit 1
done
tar -cf - -C "$work" .
