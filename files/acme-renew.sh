#!/bin/sh
# Managed by selfpages (Pulumi): `pulumi up` overwrites local changes.
# Gets or renews the site's certificate with uacme (HTTP-01: its hook writes the challenge into the
# webroot nginx serves on port 80) and installs it for nginx.
#   acme-renew up      from `pulumi up`: registers the account if missing, gets the certificate if
#                      missing or due, installs it; any failure fails the step
#   acme-renew cron    the daily job: renews when 30 days or less are left; a failure is logged with
#                      the CA's reason and the certificate served so far stays served
#   acme-renew force   renews now, whatever the validity left
# Exit status: 0 served certificate is current, 1 failed (the previous certificate still served).
set -u
mode=${1:-cron}
# Its parameters (DIRECTORY_URL, ACME_DIR, HOOK, NAMES, CONTACT, CERTIFICATE, KEY, LOG_FILE,
# CHALLENGE_DIR, RELOAD_NGINX) come from a small file the stack renders (templates/acme.conf.hbs);
# the tests point SELFPAGES_ACME_CONF at their own.
# shellcheck source=/dev/null
. "${SELFPAGES_ACME_CONF:-/etc/selfpages/acme.conf}"
# shellcheck disable=SC2153
: "${DIRECTORY_URL:?is not set in acme.conf}" "${ACME_DIR:?is not set in acme.conf}" "${HOOK:?is not set in acme.conf}" \
	"${NAMES:?is not set in acme.conf}" "${CONTACT?is not set in acme.conf}" "${CERTIFICATE:?is not set in acme.conf}" \
	"${KEY:?is not set in acme.conf}" "${LOG_FILE:?is not set in acme.conf}" "${CHALLENGE_DIR:?is not set in acme.conf}" \
	"${RELOAD_NGINX:?is not set in acme.conf}"
directory=$DIRECTORY_URL
confdir=$ACME_DIR
hook=$HOOK
# The certificate is uacme's for the first name; NAMES are DNS names, split on spaces, never globbed.
set -f
# shellcheck disable=SC2086
set -- $NAMES
first=$1
served_cert=$CERTIFICATE
served_key=$KEY
log=$LOG_FILE
export UACME_CHALLENGE_PATH="$CHALLENGE_DIR"
umask 077
cd /

say() {
    line="$(date -u +%Y-%m-%dT%H:%M:%SZ) acme: $*"
    echo "$line" >>"$log"
    [ "$mode" = cron ] || echo "$line" >&2
}

# What the CA answered: uacme prints the problem document's type and detail.
reason() {
    printf '%s\n' "$1" | grep -v '^uacme: \(version\|loading\|fetching\|retrieving\|checking\|challenge \|polling\|starting\|generating\|saving\|order\|new order\)' | tail -n 6 | tr '\n' ' ' | tr -s ' '
}

mkdir -p "$UACME_CHALLENGE_PATH"
chmod 0755 "$UACME_CHALLENGE_PATH"

# The account key is generated here, on the host, and never leaves it. `new` registers it (again,
# for a CA that forgot it: a reset staging or test CA); uacme saves the key before the CA answers.
register() {
    if ! out=$(uacme -y -a "$directory" -c "$confdir" new ${CONTACT:+"$CONTACT"} 2>&1); then
        say "account registration at $directory failed: $(reason "$out")"
        return 1
    fi
    say "account registered at $directory"
}
if [ ! -f "$confdir/private/key.pem" ]; then register || exit 1; fi

force=""
[ "$mode" = force ] && force="-f"
attempt=1
while :; do
    # -d 30: uacme leaves a certificate with more than 30 days left alone (exit 1).
    # umask 022 for the hook: nginx's workers must read the challenge file it writes. What uacme
    # writes itself stays out of reach: its directory is 0700 root.
    out=$(umask 022; uacme -v -a "$directory" -c "$confdir" -h "$hook" -t EC -d 30 $force issue "$@" 2>&1)
    status=$?
    case $status in
        0) say "new certificate for $NAMES"; break ;;
        1) break ;;
    esac
    say "issue failed (attempt $attempt, uacme status $status): $(reason "$out")"
    case $out in
        *"no account associated"*) [ "$attempt" -ge 2 ] || register ;;
    esac
    # One retry: after a failed validation, uacme's next order may fail once to parse the challenge.
    if [ "$attempt" -ge 2 ]; then
        if [ -s "$served_cert" ]; then
            say "still serving the previous certificate ($(openssl x509 -noout -enddate -in "$served_cert" 2>/dev/null))"
        fi
        exit 1
    fi
    attempt=2
    sleep "${SELFPAGES_ACME_RETRY_DELAY:-5}"
done

# Install when what uacme holds differs from what nginx serves: both files replaced by rename(2),
# checked with nginx -t, then a reload (graceful: connections in flight finish on the old workers).
new_cert="$confdir/$first/cert.pem"
new_key="$confdir/private/$first/key.pem"
if [ ! -s "$new_cert" ] || [ ! -s "$new_key" ]; then say "uacme left no certificate in $confdir/$first"; exit 1; fi
if cmp -s "$new_cert" "$served_cert" && cmp -s "$new_key" "$served_key"; then exit 0; fi
dir=$(dirname "$served_cert")
rm -rf "$dir/previous" && mkdir -p "$dir/previous"
cp -p "$served_cert" "$served_key" "$dir/previous/" 2>/dev/null || true
tmp_cert=$(mktemp "$served_cert.XXXXXX") && tmp_key=$(mktemp "$served_key.XXXXXX") || exit 1
if ! cp "$new_cert" "$tmp_cert" || ! cp "$new_key" "$tmp_key"; then rm -f "$tmp_cert" "$tmp_key"; exit 1; fi
mv -f "$tmp_key" "$served_key"
mv -f "$tmp_cert" "$served_cert"
if nginx -t -q 2>/dev/null; then
    # The stack's one way to reload nginx (lib/openrc.ts), rendered into the parameters.
    eval "$RELOAD_NGINX" >/dev/null 2>&1 || { say "nginx reload failed"; exit 1; }
    say "installed the certificate for $NAMES ($(openssl x509 -noout -enddate -in "$served_cert" 2>/dev/null))"
    exit 0
fi
# nginx refuses the new pair: put the previous one back.
cp -p "$dir/previous/$(basename "$served_cert")" "$served_cert"
cp -p "$dir/previous/$(basename "$served_key")" "$served_key"
say "nginx -t refused the new certificate; the previous one stays served"
exit 1
