#!/bin/sh
# Managed by selfpages (Pulumi): `pulumi up` overwrites local changes.
#
# Tells GitHub what happened to each deploy, as GitHub Pages does: a deployment of the commit in
# the environment, then its statuses. The sync script calls it where it knows the outcome:
#
#   deploy-report start SHA             the sync is deploying SHA: status in_progress
#   deploy-report success SHA           SHA is served: status success, with the site's URL (GitHub
#                                       marks the environment's previous deployments inactive)
#   deploy-report failure SHA REASON    the sync failed: status failure with the one-line reason,
#                                       for the commit it started, else SHA (the pushed one; may
#                                       be empty: then there is nothing to report against)
#   deploy-report drain [DELAY]         sends what is queued, after DELAY seconds (the calls
#                                       above start it)
#
# A call only queues the report (one small local file) and starts the sender in the background
# with none of the caller's descriptors: it returns at once, whatever GitHub does. That path runs
# shell builtins only, apart from starting the sender: a few milliseconds. The sender of a start
# waits START_DELAY seconds first, niced: a quick deploy (most take well under a second) runs
# without the sending's processes beside it, and its in_progress and success go out together. The sender
# sends the queue in order, alone (a lock), one request at a time, each bounded (CONNECT_TIMEOUT
# to connect, MAX_TIME in all), at most 3 attempts when the connection is refused or GitHub answers
# 5xx or 429 (never after a timeout: a slow GitHub is not asked again). A report that cannot be sent is dropped with one log
# line. The token reaches curl as a header file (-H @file): never on a command line, never logged.
#
# In a fleet (PEERS set: the other servers, each "name=URL" of the commit it serves for this site),
# only one server reports, and the sender of a success first counts the servers serving the
# commit: this one, and each peer whose URL answers it. It asks the peers that do not yet, all
# at once, every PEER_POLL seconds, each request bounded by PEER_TIMEOUT, until all do or
# PEER_WAIT seconds have passed (asked once only when another report is queued behind: this
# server is deploying again). The description says so: "deployed abc1234: served by 2 of 3
# servers (web3 not yet)". A peer that does not answer counts as not serving. The sync never
# waits on this: only the sender does.
set -u

# Its parameters: REPOSITORY, BRANCH, STATE_DIR and LOG_FILE from the sync program's sync.conf,
# the rest (API_URL, ENVIRONMENT, ENVIRONMENT_URL, TOKEN_HEADER_FILE, CONNECT_TIMEOUT, MAX_TIME,
# START_DELAY, and in a fleet PEERS, PEER_TIMEOUT, PEER_WAIT, PEER_POLL) from deploy-report.conf
# beside it; both rendered by the stack
# (templates/sync.conf.hbs, templates/deploy-report.conf.hbs). The sync program passes
# SELFPAGES_SYNC_CONF on when the tests point it at their own.
sync_conf=${SELFPAGES_SYNC_CONF:-/etc/selfpages/sync.conf}
# shellcheck source=/dev/null
. "$sync_conf"
# shellcheck source=/dev/null
. "${sync_conf%/*}/deploy-report.conf"
# shellcheck disable=SC2153
: "${REPOSITORY:?is not set in sync.conf}" "${BRANCH:?is not set in sync.conf}" "${STATE_DIR:?is not set in sync.conf}" \
	"${LOG_FILE:?is not set in sync.conf}" "${API_URL:?is not set in deploy-report.conf}" "${ENVIRONMENT:?is not set in deploy-report.conf}" \
	"${ENVIRONMENT_URL:?is not set in deploy-report.conf}" "${TOKEN_HEADER_FILE:?is not set in deploy-report.conf}" \
	"${CONNECT_TIMEOUT:?is not set in deploy-report.conf}" "${MAX_TIME:?is not set in deploy-report.conf}" \
	"${START_DELAY:?is not set in deploy-report.conf}"
# No peers: one server, or a deploy-report.conf written before fleets.
PEERS=${PEERS:-}
PEER_TIMEOUT=${PEER_TIMEOUT:-1}
PEER_WAIT=${PEER_WAIT:-10}
PEER_POLL=${PEER_POLL:-0.5}

DIR=$STATE_DIR/deployments
QUEUE=$DIR/queue
# The commit whose deploy started and has no outcome yet.
CURRENT=$DIR/current
# "<sha> <deployment id>" lines, newest last: a commit deployed again reuses its deployment.
IDS=$DIR/ids
BODY=$DIR/response
ERR=$DIR/curl-error

export LC_ALL=C
umask 077
case "$0" in /*) self=$0 ;; *) self=$PWD/$0 ;; esac
cd / || exit 1

short() { printf '%s' "$1" | cut -c1-7; }

log() {
	printf '%s deployments %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$LOG_FILE" 2>/dev/null || true
}

# One line of printable ASCII, at most 140 characters (GitHub's limit), as JSON string content.
json_text() { printf '%s' "$1" | tr -c ' -~' '?' | cut -c1-140 | sed 's/[\\"]/\\&/g'; }

is_sha() { case "$1" in *[!0-9a-f]* | '') return 1 ;; esac && [ "${#1}" -eq 40 ]; }

# Queues "<sha> <state> <description>" as one file written by one printf (the sender takes an
# entry once its newline is there); the names (11 digits) sort in queue order. The sync script's
# lock serializes the callers.
enqueue() {
	n=0
	if [ -f "$DIR/seq" ]; then read -r n <"$DIR/seq" || true; fi
	case "$n" in '' | *[!0-9]*) n=0 ;; esac
	n=$((n + 1))
	printf '%s\n' "$n" >"$DIR/seq" && printf '%s\t%s\t%s\n' "$1" "$2" "$3" >"$QUEUE/$((10000000000 + n))"
}

# The commit whose deploy started and has no outcome yet, or nothing.
read_current() {
	current=""
	if [ -f "$CURRENT" ]; then read -r current <"$CURRENT" || true; fi
}

# A deploy that started and never ended (the sync was killed, or another commit came first).
supersede() {
	read_current
	if is_sha "$current" && [ "$current" != "$1" ]; then enqueue "$current" error "stopped before it finished"; fi
}

# Sets code (the HTTP status, 000 without one) and why (one line for the log). The answer's body
# is in $BODY. Arguments: METHOD URL [JSON].
call() {
	attempt=1
	while :; do
		rm -f "$BODY" "$ERR"
		if [ "$#" -ge 3 ]; then
			code=$(printf '%s' "$3" | curl -sS -o "$BODY" -w '%{http_code}' --connect-timeout "$CONNECT_TIMEOUT" --max-time "$MAX_TIME" \
				-X "$1" -H @"$TOKEN_HEADER_FILE" -H 'Accept: application/vnd.github+json' \
				-H 'X-GitHub-Api-Version: 2022-11-28' -A selfpages \
				-H 'Content-Type: application/json' --data-binary @- "$2" 2>"$ERR")
		else
			code=$(curl -sS -o "$BODY" -w '%{http_code}' --connect-timeout "$CONNECT_TIMEOUT" --max-time "$MAX_TIME" \
				-X "$1" -H @"$TOKEN_HEADER_FILE" -H 'Accept: application/vnd.github+json' \
				-H 'X-GitHub-Api-Version: 2022-11-28' -A selfpages "$2" 2>"$ERR" </dev/null)
		fi
		rc=$?
		[ -n "$code" ] || code=000
		if [ "$rc" -ne 0 ]; then
			why="$1 ${2#"$API_URL"}: $(head -n 1 "$ERR" 2>/dev/null | tr -d '\r\n' | tr -c ' -~' '?' | cut -c1-120)"
		else
			message=$(sed -n 's/.*"message": *"\([^"]*\)".*/\1/p' "$BODY" 2>/dev/null | head -n 1 | tr -d '\r\n' | tr -c ' -~' '?' | cut -c1-100)
			why="$1 ${2#"$API_URL"} answered $code${message:+: $message}"
		fi
		case "$rc:$code" in
		0:5?? | 0:429 | 6:* | 7:* | 35:* | 52:* | 56:*) ;;
		*) return 0 ;;
		esac
		[ "$attempt" -lt 3 ] || return 0
		sleep "$attempt"
		attempt=$((attempt + 1))
	done
}

# The id in a deployment (or a list of them): the number in its statuses_url.
deployment_in_body() {
	sed -n 's/.*"statuses_url": *"[^"]*\/deployments\/\([0-9][0-9]*\)\/statuses".*/\1/p' "$BODY" 2>/dev/null | head -n 1
}

# Sets id to the commit's deployment in the environment, created if GitHub has none; on failure
# returns 1 with why set.
deployment_id() {
	id=$(awk -v sha="$1" '$1 == sha { id = $2 } END { if (id != "") print id }' "$IDS" 2>/dev/null)
	[ -z "$id" ] || return 0
	# Asked first, so that a create whose answer was lost never makes a second deployment.
	call GET "$API_URL/repos/$REPOSITORY/deployments?sha=$1&environment=$ENVIRONMENT&per_page=1"
	[ "$code" = 200 ] || return 1
	id=$(deployment_in_body)
	if [ -z "$id" ]; then
		call POST "$API_URL/repos/$REPOSITORY/deployments" "{\"ref\":\"$1\",\"task\":\"deploy\",\"auto_merge\":false,\"required_contexts\":[],\"environment\":\"$(json_text "$ENVIRONMENT")\",\"description\":\"$(json_text "$BRANCH at $(short "$1"), by selfpages")\",\"transient_environment\":false,\"production_environment\":false}"
		[ "$code" = 201 ] || return 1
		id=$(deployment_in_body)
		if [ -z "$id" ]; then
			why="POST /repos/$REPOSITORY/deployments answered no deployment id"
			return 1
		fi
	fi
	{ tail -n 49 "$IDS" 2>/dev/null; printf '%s %s\n' "$1" "$id"; } >"$IDS.new" && mv -f "$IDS.new" "$IDS"
	return 0
}

forget() {
	awk -v sha="$1" '$1 != sha' "$IDS" >"$IDS.new" 2>/dev/null && mv -f "$IDS.new" "$IDS"
}

# Whether a report is queued (behind the one being sent, which left the queue).
queued() {
	for entry in "$QUEUE"/[0-9]*; do
		[ -f "$entry" ] && return 0
	done
	return 1
}

# Asks every peer in $waiting, all at once, for the commit it serves; leaves in waiting those that
# do not answer SHA.
ask_peers() {
	# A URL may hold an IPv6 address in brackets: no pathname expansion of them (nor globbing by
	# curl: -g).
	set -f
	n=0
	for peer in $waiting; do
		n=$((n + 1))
		curl -sfg -o "$DIR/peer.$n" --connect-timeout "$PEER_TIMEOUT" --max-time "$PEER_TIMEOUT" -A selfpages "${peer#*=}" </dev/null >/dev/null 2>&1 &
	done
	wait
	n=0
	still=""
	for peer in $waiting; do
		n=$((n + 1))
		answer=""
		if [ -f "$DIR/peer.$n" ]; then read -r answer <"$DIR/peer.$n" || true; fi
		rm -f "$DIR/peer.$n"
		[ "$answer" = "$1" ] || still="$still $peer"
	done
	set +f
	waiting=${still# }
}

# Hundredths of a second since boot, from /proc/uptime (two decimals; busybox and GNU alike): the
# whole seconds of `date +%s` made PEER_WAIT anything from PEER_WAIT - 1 to PEER_WAIT seconds, and
# with a 2 s wait sometimes too short for a second round. "1" before the decimals: not octal.
centiseconds() {
	read -r up _ </proc/uptime
	echo $((${up%.*} * 100 + 1${up#*.} - 100))
}

# Sets served to "served by N of M servers[ (names not yet)]": this server and the peers whose
# commit URL answers SHA, asked until all do or PEER_WAIT seconds have passed (see the header).
count_served() {
	waiting=$PEERS
	since=$(centiseconds)
	while :; do
		ask_peers "$1"
		[ -n "$waiting" ] || break
		[ $(($(centiseconds) - since)) -lt $((PEER_WAIT * 100)) ] || break
		! queued || break
		# A fraction of a second where sleep takes one (coreutils, busybox with float sleep).
		sleep "$PEER_POLL" 2>/dev/null || sleep 1
	done
	set -f
	total=1
	for peer in $PEERS; do total=$((total + 1)); done
	count=$total
	missing=""
	for peer in $waiting; do
		count=$((count - 1))
		missing="$missing, ${peer%%=*}"
	done
	set +f
	served="served by $count of $total servers${missing:+ (${missing#, } not yet)}"
	# GitHub keeps 140 characters, and "deployed abc1234: " comes first: the names give way to their number.
	if [ $((${#served} + 18)) -gt 140 ]; then served="served by $count of $total servers ($((total - count)) not yet)"; fi
}

# Sends one status: SHA STATE DESCRIPTION.
send() {
	served=""
	if [ "$2" = success ] && [ -n "$PEERS" ]; then
		count_served "$1"
		set -- "$1" "$2" "$3: $served"
	fi
	body="{\"state\":\"$2\",\"description\":\"$(json_text "$3")\""
	if [ "$2" = success ]; then body="$body,\"environment_url\":\"$(json_text "$ENVIRONMENT_URL")\",\"auto_inactive\":true"; fi
	body="$body}"
	for try in 1 2; do
		if ! deployment_id "$1"; then
			log "could not report $2 for $(short "$1"): $why"
			return 0
		fi
		call POST "$API_URL/repos/$REPOSITORY/deployments/$id/statuses" "$body"
		# The deployment was deleted in GitHub: once more, with a new one.
		if [ "$code" = 404 ] && [ "$try" = 1 ]; then
			forget "$1"
			continue
		fi
		break
	done
	if [ "$code" != 201 ]; then
		log "could not report $2 for $(short "$1"): $why"
	elif [ "$2" != in_progress ]; then
		log "reported $2 for $(short "$1") (deployment $id)${served:+: $served}"
	fi
}

drain() {
	exec 8>>"$DIR/lock"
	flock -n 8 || return 0
	# Holding the lock: the outcome's sender, started meanwhile, leaves its report to this one.
	if [ "${1:-0}" -gt 0 ]; then sleep "$1"; fi
	stuck=""
	while :; do
		for entry in "$QUEUE"/[0-9]*; do
			[ -f "$entry" ] || continue
			if ! IFS= read -r line <"$entry"; then
				# Still being written (its printf has not ended): taken on the next pass, in order.
				# Still unfinished a second later (a full disk left it empty): dropped.
				if [ "$entry" != "$stuck" ]; then
					stuck=$entry
					sleep 1
					continue 2
				fi
				log "dropped an unreadable report ($entry)"
			fi
			rm -f "$entry"
			sha=$(printf '%s' "$line" | cut -f1)
			state=$(printf '%s' "$line" | cut -f2)
			text=$(printf '%s' "$line" | cut -f3-)
			is_sha "$sha" || continue
			send "$sha" "$state" "$text"
		done
		rm -f "$BODY" "$ERR"
		flock -u 8
		# A report queued between the last look and the unlock: its sender found the lock held.
		set -- "$QUEUE"/[0-9]*
		[ -f "$1" ] || break
		flock -n 8 || break
	done
}

if [ ! -d "$QUEUE" ]; then mkdir -p "$QUEUE" 2>/dev/null || exit 0; fi
case "${1:-}" in
start)
	is_sha "${2:-}" || exit 2
	supersede "$2"
	printf '%s\n' "$2" >"$CURRENT"
	enqueue "$2" in_progress "deploying ${2%"${2#???????}"}"
	;;
success)
	is_sha "${2:-}" || exit 2
	supersede "$2"
	: >"$CURRENT"
	enqueue "$2" success "deployed ${2%"${2#???????}"}"
	;;
failure)
	read_current
	: >"$CURRENT"
	sha=${2:-}
	if is_sha "$current"; then sha=$current; fi
	is_sha "$sha" || exit 0
	enqueue "$sha" failure "${3:-the sync failed}"
	;;
drain)
	case "${2:-0}" in '' | *[!0-9]*) delay=0 ;; *) delay=${2:-0} ;; esac
	drain "$delay"
	exit 0
	;;
*)
	echo "usage: $0 start SHA | success SHA | failure [SHA] REASON | drain [DELAY]" >&2
	exit 2
	;;
esac
# The sender, in the background with none of the caller's descriptors (a receiver, cron or an SSH
# session may be waiting for its output to close), and niced: the deploy it reports comes first.
# (nice is in coreutils and Alpine's busybox, not in every busybox build.)
delay=0
if [ "$1" = start ]; then delay=$START_DELAY; fi
if command -v nice >/dev/null 2>&1; then
	nice -n 10 sh "$self" drain "$delay" </dev/null >/dev/null 2>&1 3>&- 8>&- 9>&- &
else
	sh "$self" drain "$delay" </dev/null >/dev/null 2>&1 3>&- 8>&- 9>&- &
fi
exit 0
