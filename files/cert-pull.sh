#!/bin/sh
# Managed by selfpages (Pulumi): `pulumi up` overwrites local changes.
# On a fleet's peer (a server that orders no certificate): fetches the current certificates from
# the lead over SSH (this server's own key, the lead's pinned host key; the lead answers with its
# cert-export program whatever is asked) and installs each one that changed, then reloads nginx.
#   cert-pull up      from `pulumi up`: any failure fails the step
#   cert-pull cron    the 15-minute job: a failure is logged, the certificates served so far stay
# A site the lead has no certificate for yet keeps what it serves (the placeholder at first).
# Exit status: 0 every site the lead has a certificate for serves it, 1 failed.
set -u
mode=${1:-cron}
# Its parameters (LEAD_HOST, LEAD_PORT, LEAD_USER, IDENTITY, KNOWN_HOSTS, TLS_DIR, SITES,
# LOG_FILE, RELOAD_NGINX) come from a small file the stack renders (templates/cert-pull.conf.hbs);
# the tests point SELFPAGES_CERT_PULL_CONF at their own.
# shellcheck source=/dev/null
. "${SELFPAGES_CERT_PULL_CONF:-/etc/selfpages/cert-pull.conf}"
# shellcheck disable=SC2153
: "${LEAD_HOST:?is not set in cert-pull.conf}" "${LEAD_PORT:?is not set in cert-pull.conf}" "${LEAD_USER:?is not set in cert-pull.conf}" \
	"${IDENTITY:?is not set in cert-pull.conf}" "${KNOWN_HOSTS:?is not set in cert-pull.conf}" "${TLS_DIR:?is not set in cert-pull.conf}" \
	"${SITES?is not set in cert-pull.conf}" "${LOG_FILE:?is not set in cert-pull.conf}" "${RELOAD_NGINX:?is not set in cert-pull.conf}"
umask 077
cd / || exit 1

say() {
    line="$(date -u +%Y-%m-%dT%H:%M:%SZ) cert-pull: $*"
    echo "$line" >>"$LOG_FILE"
    [ "$mode" = cron ] || echo "$line" >&2
}

# Private: the keys pass through it. On the same file system as the served files, so that each
# install is a rename(2).
work=$(mktemp -d "$TLS_DIR/.pull.XXXXXX") || { say "cannot make a work directory in $TLS_DIR"; exit 1; }
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM
mkdir "$work/in"

# Every peer pulls at the same minute, and the lead's sshd drops logins past its MaxStartups (by
# default 10 unauthenticated at once: 6 of 20 simultaneous logins to a sandbox host were closed).
# From cron a peer first waits a random part of a minute; a connection the lead closed, reset or
# refused is tried again, 4 attempts in all, 1-3 s apart (the tests set both to 0).
random_below() { echo $(($(od -An -N2 -tu2 /dev/urandom) % $1)); }
splay=${SELFPAGES_CERT_PULL_SPLAY:-60}
retry_delay=${SELFPAGES_CERT_PULL_RETRY_DELAY:-3}
if [ "$mode" = cron ] && [ "$splay" -gt 0 ]; then sleep "$(random_below "$splay")"; fi

# No user or system ssh config, no agent, no other key, no prompt: only the lead's pinned key.
attempt=1
while :; do
    ssh -F /dev/null -i "$IDENTITY" -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
        -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null \
        -o ConnectTimeout=10 -o ServerAliveInterval=10 -o ServerAliveCountMax=3 \
        -p "$LEAD_PORT" -l "$LEAD_USER" "$LEAD_HOST" cert-export >"$work/certs.tar" 2>"$work/ssh.err" && break
    ssh_status=$?
    reason=$(tail -n 3 "$work/ssh.err" | tr '\n' ' ')
    # 255 is ssh's own failure; a refused key, another host key or a timeout will not pass on a retry.
    if [ "$ssh_status" -ne 255 ] || [ "$attempt" -ge 4 ] || grep -q -e 'Host key verification failed' -e 'Permission denied' -e 'timed out' "$work/ssh.err"; then
        say "fetching from $LEAD_HOST:$LEAD_PORT failed (attempt $attempt): $reason"
        exit 1
    fi
    say "fetching from $LEAD_HOST:$LEAD_PORT: attempt $attempt failed, trying again: $reason"
    attempt=$((attempt + 1))
    if [ "$retry_delay" -gt 0 ]; then sleep "$((1 + $(random_below "$retry_delay")))"; fi
done
if ! tar -xf "$work/certs.tar" -C "$work/in" 2>"$work/tar.err"; then
    say "the lead's answer is not a certificate stream: $(tail -n 3 "$work/tar.err" | tr '\n' ' ')"
    exit 1
fi

# The public key of a certificate and of a private key, to tell that they are a pair.
cert_pubkey() { openssl x509 -noout -pubkey -in "$1" 2>/dev/null; }
key_pubkey() { openssl pkey -pubout -in "$1" 2>/dev/null; }

status=0
changed=""
set -f
for site in $SITES; do
    cert="$work/in/$site/fullchain.pem"
    key="$work/in/$site/privkey.pem"
    served_cert="$TLS_DIR/$site/fullchain.pem"
    served_key="$TLS_DIR/$site/privkey.pem"
    if [ ! -s "$cert" ] || [ ! -s "$key" ]; then
        say "the lead has no certificate for $site yet; serving what was served"
        continue
    fi
    if cmp -s "$cert" "$served_cert" && cmp -s "$key" "$served_key"; then continue; fi
    # Never install what nginx could not serve: an expired certificate, or a key of another one.
    pub=$(cert_pubkey "$cert")
    if [ -z "$pub" ] || [ "$pub" != "$(key_pubkey "$key")" ] || ! openssl x509 -noout -checkend 0 -in "$cert" >/dev/null 2>&1; then
        say "the lead's certificate for $site is expired or does not match its key; not installed"
        status=1
        continue
    fi
    dir=$TLS_DIR/$site
    mkdir -p "$dir" && chmod 0700 "$dir"
    rm -rf "$dir/previous" && mkdir -p "$dir/previous"
    cp -p "$served_cert" "$served_key" "$dir/previous/" 2>/dev/null || true
    # Both written beside their target with their final mode, then renamed: nginx never reads half a file.
    if ! cp "$key" "$work/key" || ! chmod 0600 "$work/key" || ! cp "$cert" "$work/cert" || ! chmod 0644 "$work/cert" ||
        ! mv -f "$work/key" "$served_key" || ! mv -f "$work/cert" "$served_cert"; then
        say "installing the certificate for $site failed"
        status=1
        continue
    fi
    changed="$changed $site"
done
[ -n "$changed" ] || exit "$status"

if nginx -t -q 2>/dev/null; then
    # The stack's one way to reload nginx (lib/openrc.ts), rendered into the parameters.
    if ! eval "$RELOAD_NGINX" >/dev/null 2>&1; then say "nginx reload failed"; exit 1; fi
    for site in $changed; do
        say "installed the certificate for $site ($(openssl x509 -noout -enddate -in "$TLS_DIR/$site/fullchain.pem" 2>/dev/null))"
    done
    exit "$status"
fi
# nginx refuses the new pairs: put the previous ones back.
for site in $changed; do
    dir=$TLS_DIR/$site
    cp -p "$dir/previous/fullchain.pem" "$dir/fullchain.pem" 2>/dev/null
    cp -p "$dir/previous/privkey.pem" "$dir/privkey.pem" 2>/dev/null
done
say "nginx -t refused the new certificates of$changed; the previous ones stay served"
exit 1
