#!/bin/sh
# Managed by selfpages (Pulumi): `pulumi up` overwrites local changes.
#
# Deploys the newest commit of a branch (or the pinned commit, PIN), one commit deep, as a new
# release that shares every unchanged file with the current one, then switches the served link
# with one rename(2). A commit that a kept release already holds is served by switching to it.
#
#   sync webhook EVENT REF REPOSITORY DELIVERY [AFTER]
#                                                from the webhook receiver, in the background;
#                                                anything but a push to the branch is ignored
#   sync cron                                    the fallback every few minutes (cheap when
#                                                nothing changed: one ls-remote)
#   sync manual                                  from `pulumi up`: waits for a running sync,
#                                                deploys, exits non-zero if that failed
#
# FOLDER names the directory of the commit that nginx serves (current/FOLDER), "" for all of it:
# the release is the whole commit all the same, and a commit without that directory is not
# deployed. While PIN is set, that commit is served instead of the branch's head: webhook and cron
# log the pushes they leave alone, and deploy the pin only if it is not served yet.
#
# Layout under the site root:
#   repo.git/            bare, shallow clone: the objects of one commit
#   releases/<id>/       <UTC time>-<short sha>; complete once .selfpages-complete exists
#   current -> releases/<id>   what nginx serves; never modified, only replaced
#   .spare/              a hardlink copy of the current release made after each deploy: the next
#                        deploy starts from it (.selfpages-spare names the release it copies)
# Inside a release, names starting with .selfpages- are ours (nginx serves no dotfiles):
#   .selfpages-index     git index of the release (stat data lets the next sync reuse it); the
#                        current release's only (and that of a release a switch to a kept one
#                        left, the way back): a build removes the others'
#   .selfpages-commit    the commit deployed
#   .selfpages-gz        the .gz files this script generated (not the ones the site ships)
#   .selfpages-br        the same for .br (brotli, for clients that accept it)
#   .selfpages-folder    the FOLDER its precompression covered, when not the whole commit
#   .selfpages-complete  written last
#
# A sync builds releases/<id> as `cp -al` of the current release (hardlinks only) and lets git
# rewrite just the paths that changed: git replaces a file by unlink + create, so the files the
# current release shares with the new one are never written to. The copy is one link per file
# (0.3-0.6 s for 20 000 files, more than the rest of a small deploy): the previous sync made it
# after its switch, while nobody waited, and it costs the disk of its directories alone.
#
# Webhook and cron syncs never overlap: each invocation leaves a pending flag, and only the one
# holding the lock syncs, again and again while flags appear, so a burst of deliveries during a
# sync costs exactly one more sync.
#
# When the stack reports deploys to GitHub, DEPLOY_REPORT is installed: it is told "start SHA",
# "success SHA" (after the switch) or "failure AFTER REASON", queues that and returns at once.
#
# A deploy logs one "phases" line: the epoch time (to the ns where date has %N) of each milestone
# (start, locked, fetch, fetched, planned, checkedout, gz, br, switched, finished; lsremote
# when cron or a failed fetch asks the origin first), for the benchmark's breakdown of push to
# served. One `date` each, about 1 ms.
set -eu
phases="" stamp=""
# mark NAME [FORMAT]: with FORMAT, the same `date` also puts the UTC time so formatted in $stamp.
mark() {
	# %N last: Alpine's busybox date prints nothing after it.
	marked=$(date -u "+${2:+$2 }%s.%N")
	stamp=${marked%% *}
	marked=${marked##* }
	# A date without %N prints it as is (Debian's busybox) or nothing (Alpine's): seconds then.
	case "$marked" in
	*.[0-9]*) ;;
	*) marked=${marked%%.*} ;;
	esac
	phases="$phases $1=$marked"
}
mark start
start_seconds=${marked%%.*}

# Its parameters (REPOSITORY, BRANCH, CLONE_URL, SITE_ROOT, STATE_DIR, LOG_FILE, DEPLOY_REPORT,
# KEEP_RELEASES, GZIP_MIN_BYTES, GZIP_EXTENSIONS, and FOLDER and PIN, which may be empty) come
# from a small file the stack renders
# (templates/sync.conf.hbs); the tests point SELFPAGES_SYNC_CONF at their own.
# `--conf FILE` first names the site's file (each site has its own); the deploy reporter reads it too.
if [ "${1:-}" = --conf ]; then
	SELFPAGES_SYNC_CONF=${2:-}
	shift 2 || shift
fi
export SELFPAGES_SYNC_CONF="${SELFPAGES_SYNC_CONF:-/etc/selfpages/sync.conf}"
# shellcheck source=/dev/null
. "$SELFPAGES_SYNC_CONF"
# A parameter missing from that file stops the sync here, naming it. (shellcheck cannot see the
# assignments in the sourced file, hence SC2153 off.)
# shellcheck disable=SC2153
: "${REPOSITORY:?is not set in sync.conf}" "${BRANCH:?is not set in sync.conf}" "${CLONE_URL:?is not set in sync.conf}" \
	"${SITE_ROOT:?is not set in sync.conf}" "${STATE_DIR:?is not set in sync.conf}" "${LOG_FILE:?is not set in sync.conf}" \
	"${DEPLOY_REPORT:?is not set in sync.conf}" "${KEEP_RELEASES:?is not set in sync.conf}" \
	"${GZIP_MIN_BYTES:?is not set in sync.conf}" "${GZIP_EXTENSIONS:?is not set in sync.conf}"
# Empty when a sync.conf written before them lacks them: the whole branch, its head.
FOLDER=${FOLDER-} PIN=${PIN-}
case "$FOLDER" in
*[!A-Za-z0-9._-]* | . | ..)
	echo "FOLDER in sync.conf is not one directory name: '$FOLDER'" >&2
	exit 2
	;;
esac
case "$PIN" in *[A-F]*) PIN=$(printf '%s' "$PIN" | tr 'A-F' 'a-f') ;; esac
case "$PIN" in
"") ;;
*[!0-9a-f]*)
	echo "PIN in sync.conf is not a 40-hex commit: '$PIN'" >&2
	exit 2
	;;
*)
	if [ "${#PIN}" -ne 40 ]; then
		echo "PIN in sync.conf is not a 40-hex commit: '$PIN'" >&2
		exit 2
	fi
	;;
esac
# Seconds `manual` waits for a running sync before giving up.
LOCK_WAIT=600

REPO=$SITE_ROOT/repo.git
RELEASES=$SITE_ROOT/releases
CURRENT=$SITE_ROOT/current
SPARE=$SITE_ROOT/.spare
LOCK=$STATE_DIR/sync.lock
PENDING=$STATE_DIR/sync.pending
STEP_FILE=$STATE_DIR/sync.step
ERR_FILE=$STATE_DIR/sync.err

# Nothing from the service account's or the system's git config: same behaviour everywhere.
export LC_ALL=C GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
umask 022
# Callers may leave us in a directory the service account cannot read (su from root's home):
# find and git need a readable working directory.
cd /
# fd 3: the caller's stderr, for log lines, while the tools' stderr is collected per sync.
exec 3>&2

mode=${1:-}
delivery="" after=""
case "$mode" in
webhook)
	# The receiver passes all four; a value missing from a payload may come as nothing at all.
	[ "$#" -le 6 ] || {
		echo "usage: $0 webhook EVENT REF REPOSITORY DELIVERY [AFTER]" >&2
		exit 2
	}
	event=${2:-} ref=${3:-} repository=${4:-} delivery=${5:-} after=${6:-}
	;;
cron | manual)
	[ "$#" -eq 1 ] || {
		echo "usage: $0 $mode (no arguments)" >&2
		exit 2
	}
	;;
*)
	echo "usage: $0 webhook EVENT REF REPOSITORY DELIVERY [AFTER] | cron | manual" >&2
	exit 2
	;;
esac

# Payload values are untrusted: one line of plain characters, at most 100 of them.
clean() { printf '%s' "$1" | tr -c 'A-Za-z0-9._/@:+-' '?' | cut -c1-100; }
# Shell expansions rather than a tool where a deploy runs them: each process costs a millisecond.
short() {
	case "$1" in
	???????*) printf '%s' "${1%"${1#???????}"}" ;;
	*) printf '%s' "$1" ;;
	esac
}
lower() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]'; }
# A token in the clone URL (https://user:token@host/...) never reaches the log.
redact() { sed 's#://[^/@]*@#://***@#g'; }

# (GitHub's delivery ids are plain: no process to clean them.)
case "$delivery" in *[!A-Za-z0-9._/@:+-]*) delivery=$(clean "$delivery") ;; esac
if [ "${#delivery}" -gt 100 ]; then delivery=$(clean "$delivery"); fi
tag="sync[$mode${delivery:+ delivery=$delivery}]"

log() {
	entry="$(date -u +%Y-%m-%dT%H:%M:%SZ) $tag $*"
	printf '%s\n' "$entry" >&3
	printf '%s\n' "$entry" >>"$LOG_FILE" 2>/dev/null || true
}

[ -d "${LOG_FILE%/*}" ] || mkdir -p "${LOG_FILE%/*}" 2>/dev/null || true

if [ "$mode" = webhook ]; then
	if [ "$event" != push ]; then
		log "ignored: event '$(clean "$event")' is not push"
		exit 0
	fi
	if [ "$ref" != "refs/heads/$BRANCH" ]; then
		log "ignored: ref '$(clean "$ref")' is not refs/heads/$BRANCH"
		exit 0
	fi
	if [ "$repository" != "$REPOSITORY" ] && [ "$(lower "$repository")" != "$(lower "$REPOSITORY")" ]; then
		log "ignored: repository '$(clean "$repository")' is not $REPOSITORY"
		exit 0
	fi
fi

# One commit in memory at a time: modest pack settings for a 512 MB host; no automatic gc
# (maintain_repo does it, under the lock), no reflogs. git maps its packs into memory, up to
# 8 GiB at a time by default: a checkout or a disk-usage count of a 250 MB pack then holds all of
# it in its RSS (260 MB measured for read-tree). Windows of 8 MiB, 32 MiB in all, cap that at
# about 40 MB, at no measurable cost in time.
git_repo() {
	git -c core.logAllRefUpdates=false -c gc.auto=0 -c maintenance.auto=false \
		-c pack.threads=1 -c pack.windowMemory=32m -c pack.deltaCacheSize=16m \
		-c core.bigFileThreshold=16m -c core.deltaBaseCacheLimit=32m \
		-c core.packedGitWindowSize=8m -c core.packedGitLimit=32m \
		-c core.autocrlf=false -c core.symlinks=true -c core.trustctime=false \
		-c core.quotepath=off --git-dir="$REPO" "$@"
}

# Prints "releases/<id>" or nothing. Call it in $(...): it changes directory. (cd -P resolves the
# link in the shell; readlink would cost a process, on the way to every deploy.)
current_release() {
	if [ -L "$CURRENT" ] && cd -P "$CURRENT" 2>/dev/null; then printf 'releases/%s\n' "${PWD##*/}"; fi
}

# Prints the commit of release $1 ("releases/<id>") if it is complete, or nothing.
commit_of() {
	release=$1
	if [ -n "$release" ] && [ -f "$SITE_ROOT/$release/.selfpages-complete" ] && [ -f "$SITE_ROOT/$release/.selfpages-commit" ]; then
		read -r line <"$SITE_ROOT/$release/.selfpages-commit" || true
		printf '%s\n' "$line"
	fi
}

step() { printf '%s\n' "$*" >"$STEP_FILE"; }

# Deployments in GitHub, when set up: the reporter queues and returns; it gets neither the lock nor
# the caller's output, so GitHub being slow or down never delays or fails a deploy.
report() {
	if [ -x "$DEPLOY_REPORT" ]; then "$DEPLOY_REPORT" "$@" </dev/null >/dev/null 2>&1 3>&- 9>&- || true; fi
}

# Release names, newest first (they start with the UTC time of their sync).
release_names() {
	for release in "$RELEASES"/*; do
		name=${release##*/}
		case "$name" in [0-9]*T[0-9]*Z-[0-9a-f]*) printf '%s\n' "$name" ;; esac
	done | sort -r
}

# YYYYMMDDhhmmss of a release name or a time YYYYMMDDThhmmssZ.
digits() { set -- "${1%%Z*}"; printf '%s' "${1%T*}${1#*T}"; }

# <UTC time>-<short sha>, later than every existing release even for two syncs in one second (or
# a clock set back), so that name order is deploy order. $2: the time now, YYYYMMDDThhmmssZ, when
# the caller has it.
release_id() {
	now=${2:-$(date -u +%Y%m%dT%H%M%SZ)}
	# The glob lists names in byte order (LC_ALL=C): the last one is the newest.
	newest=""
	for release in "$RELEASES"/*; do
		case "${release##*/}" in [0-9]*T[0-9]*Z-[0-9a-f]*) newest=${release##*/} ;; esac
	done
	# Usually now is later: YYYYMMDDhhmmss compared as numbers, with no date arithmetic.
	if [ -n "$newest" ] && [ "$(digits "$now")" -le "$(digits "$newest")" ]; then
		last=$(date -u -d "$(printf '%s' "${newest%%Z-*}" | sed 's/^\(....\)\(..\)\(..\)T\(..\)\(..\)\(..\)$/\1-\2-\3 \4:\5:\6/')" +%s) || last=0
		now=$(date -u -d "@$((last + 1))" +%Y%m%dT%H%M%SZ)
	fi
	printf '%s-%s\n' "$now" "$(short "$1")"
}

# Removes release directories that never got their completion marker (a crashed or failed sync),
# except the one `current` points to.
# $1: the current release when the caller knows it.
remove_incomplete() {
	keep=${1-$(current_release)}
	keep=${keep##*/}
	for release in "$RELEASES"/*; do
		[ -d "$release" ] || continue
		[ -f "$release/.selfpages-complete" ] && continue
		[ "${release##*/}" = "$keep" ] && continue
		rm -rf "$release"
	done
}

# Keeps the newest KEEP_RELEASES complete releases, the current one always among them.
prune_releases() {
	keep=$(current_release)
	keep=${keep##*/}
	kept=1
	for name in $(release_names); do
		[ "$name" = "$keep" ] && continue
		if [ "$kept" -lt "$KEEP_RELEASES" ] && [ -f "$RELEASES/$name/.selfpages-complete" ]; then
			kept=$((kept + 1))
		else
			rm -rf "${RELEASES:?}/$name"
		fi
	done
}

# Makes .spare, a hardlink copy of release $1, for the next deploy to start from. Called in a
# condition, where `set -e` is off: every step is chained, and a failed copy is not left behind.
# With $2 = settle, its index is refreshed a second later: git cannot trust the stat data of a
# file written in the same second as the index ("racily clean") and re-reads it at the next
# refresh. After a large checkout that is every file of its last second (0.5-0.9 s more for the
# first one-file push after 20 000 new files); refreshed now, the next push re-reads none.
prepare_spare() {
	if rm -rf "$SPARE" "$SPARE.new" && cp -al "$RELEASES/$1" "$SPARE.new"; then
		if [ "${2:-}" = settle ]; then
			sleep 1
			# The index is a link to the release's: git writes the refreshed one as a new file.
			GIT_INDEX_FILE=$SPARE.new/.selfpages-index git_repo --work-tree="$SPARE.new" update-index -q --refresh >/dev/null 2>&1 || true
		fi
		if printf 'releases/%s\n' "$1" >"$SPARE.new/.selfpages-spare" && mv "$SPARE.new" "$SPARE"; then
			return 0
		fi
	fi
	rm -rf "$SPARE.new"
	return 1
}

# A depth-1 fetch leaves the objects of the replaced commit behind. Loose ones go at once; packed
# ones (the first clone's pack, large fetches) go with a full repack, done once they make up a
# third of the store: the clone stays under 1.5 times one commit's objects, and a repack (which
# briefly needs one commit's worth of extra disk, and about 30 MB of memory) stays rare.
maintain_repo() {
	git_repo prune --expire=now
	reachable=$(git_repo rev-list --objects --all --disk-usage 2>/dev/null) || reachable=""
	stats=$(git_repo count-objects -v | awk '$1 == "size:" { l = $2 } $1 == "size-pack:" { p = $2 } $1 == "packs:" { n = $2 } END { print (l + p) * 1024, n + 0 }')
	total=${stats% *}
	packs=${stats#* }
	if [ -n "$reachable" ]; then
		[ $((total - reachable)) -gt $((total / 3)) ] || [ "$packs" -gt 8 ] || return 0
	else
		[ "$packs" -gt 2 ] || return 0
	fi
	git_repo repack -a -d -q
	git_repo prune --expire=now
}

# The plan of a build, for both encodings E (.gz for gzip_static, .br for brotli_static), in one
# process: the changes git will make ("A|M|T|D<tab>path" on stdin, relative to the release), the new
# tree ($tree, from `ls-tree -r -l`: "<mode> <type> <id> <size><tab><path>") and, per encoding,
# the previous manifest ($1 for .gz, $3 for .br; "" for none) and whether every path of the tree
# is a candidate ($2, $4 = all: the previous release has no manifest of that encoding, as it
# predates it, or it was made for another FOLDER). Writes the generated files to delete to
# $plan.rm, the files to compress to $plan.E ("./<path>": regular files of the new tree of at least
# GZIP_MIN_BYTES, as blobs, which is what git writes but for a .gitattributes conversion: no find
# after the checkout), the manifest entries that stay to $kept.E; prints the words of the work
# there is: changed.E (the manifest changes), compress.E. Only paths in FOLDER are compressed:
# nginx serves nothing else. Exits 3 when the tree has top-level names starting with .selfpages-.
plan_build() {
	awk -v exts="$GZIP_EXTENSIONS" -v min="$GZIP_MIN_BYTES" -v tree="$tree" -v folder="${FOLDER:+$FOLDER/}" \
		-v plan="$plan" -v kept="$kept" -v manifest_gz="$1" -v all_gz="$2" -v manifest_br="$3" -v all_br="$4" '
		BEGIN {
			n = split(exts, list, " ")
			for (i = 1; i <= n; i++) ext[tolower(list[i])] = 1
			split(".gz .br", sfxs, " ")
			manifest[".gz"] = manifest_gz
			manifest[".br"] = manifest_br
			all[".gz"] = all_gz
			all[".br"] = all_br
			# find -size +0c: an empty file is never compressed.
			if (min + 0 < 1) min = 1
			for (s = 1; s <= 2; s++) {
				sfx = sfxs[s]
				if (manifest[sfx] != "") while ((getline line < manifest[sfx]) > 0) generated[sfx, line] = 1
			}
			while ((getline line < tree) > 0) {
				tab = index(line, "\t")
				path = substr(line, tab + 1)
				split(substr(line, 1, tab - 1), meta, " ")
				if (path ~ /^\.selfpages-/) own = 1
				intree[path] = 1
				# Regular files (100644, 100755: not symlinks or submodules), big enough.
				if (meta[1] ~ /^100/ && meta[4] + 0 >= min + 0) fits[path] = 1
				for (s = 1; s <= 2; s++) if (all[sfxs[s]] == "all") candidate[sfxs[s], path] = 1
			}
			if (own) exit 3
		}
		{
			status = substr($0, 1, 1)
			path = substr($0, index($0, "\t") + 1)
			# git quotes names with control characters, quotes or backslashes: not precompressed.
			if (path ~ /^"/) next
			for (s = 1; s <= 2; s++) {
				sfx = sfxs[s]
				if ((sfx, path sfx) in generated) drop[sfx, path sfx] = 1
				if ((sfx, path) in generated) drop[sfx, path] = 1
				if (status == "D") {
					# The site stopped shipping its own compressed copy: ours may take its place.
					if (substr(path, length(path) - 2) == sfx) candidate[sfx, substr(path, 1, length(path) - 3)] = 1
				} else candidate[sfx, path] = 1
			}
		}
		END {
			if (own) exit 3
			for (key in drop) {
				split(key, k, SUBSEP)
				print k[2] > (plan ".rm")
				changed[k[1]] = 1
			}
			for (key in generated) {
				if (key in drop) continue
				split(key, k, SUBSEP)
				print k[2] > (kept k[1])
			}
			for (key in candidate) {
				split(key, k, SUBSEP)
				sfx = k[1]
				path = k[2]
				if (!(path in fits) || path ~ /^"/ || path ~ /\.(gz|br)$/ || (path sfx) in intree) continue
				if (folder != "" && index(path, folder) != 1) continue
				if ((sfx, path sfx) in generated && !((sfx, path sfx) in drop)) continue
				base = path
				sub(/.*\//, "", base)
				if (index(base, ".") == 0) continue
				e = base
				sub(/.*\./, "", e)
				if (tolower(e) in ext) {
					print "./" path > (plan sfx)
					compress[sfx] = 1
				}
			}
			for (s = 1; s <= 2; s++) {
				sfx = sfxs[s]
				if (all[sfx] == "all" || sfx in changed) printf " changed%s", sfx
				if (sfx in compress) printf " compress%s", sfx
			}
			print ""
		}'
}

# Removes the paths listed on stdin (one a line) under directory $1: a few hundred per rm.
remove_listed() {
	under=$1
	set --
	while IFS= read -r path; do
		set -- "$@" "$under/$path"
		if [ "$#" -ge 200 ]; then
			rm -f "$@"
			set --
		fi
	done
	if [ "$#" -gt 0 ]; then rm -f "$@"; fi
}

# Compresses the files listed in $2 ("./<path>" lines, relative to directory $1) into $3 (.gz for
# gzip_static, .br for brotli_static), with the source's mtime (nginx takes Last-Modified and the
# ETag from the compressed file). Prints the paths written. $2 is then a scratch file (and $2.m,
# $2.p others).
# Every step takes the whole list in a few processes: a site has thousands of text files, and one
# gzip and one touch per file cost far more than the compression itself (37 s of 42 for the first
# deploy of a 20 000-file site). brotli at its best quality (the only one that beats gzip -9 by 15%
# on small CSS and JS) is 7 times slower than gzip -9: it runs on every core.
precompress() {
	(
		cd "$1"
		[ -s "$2" ] || exit 0
		# Fresh files: never write through a name that may be a hardlink into another release.
		sed "s#\$#$3#" "$2" | tr '\n' '\0' | xargs -0 rm -f
		if [ "$3" = .br ]; then
			# brotli keeps the source and copies its mtime (-f: sources have several links, the
			# releases share them).
			# One batch per core where xargs runs several at once (-P is an option of busybox's build).
			if xargs -P 1 true </dev/null 2>/dev/null; then
				jobs=$(nproc 2>/dev/null || echo 1)
				tr '\n' '\0' <"$2" | xargs -0 -P "$jobs" -n "$((($(wc -l <"$2") + jobs - 1) / jobs))" brotli -q 11 -f -k
			else
				tr '\n' '\0' <"$2" | xargs -0 brotli -q 11 -f -k
			fi
			sed 's#^\./##; s#$#.br#' "$2"
			exit 0
		fi
		# -k keeps the source; -f lets gzip read sources with several links (the releases share them).
		tr '\n' '\0' <"$2" | xargs -0 gzip -9 -n -k -f
		sed 's#^\./##; s#$#.gz#' "$2"
		# GNU gzip gives the .gz its source's mtime, as an empty file dated 2000 shows; busybox
		# gzip leaves the time it was written: one touch per group of sources written in the same
		# second, with the group's first as the reference. nginx's Last-Modified and ETag have a
		# one-second resolution.
		: >"$2.p"
		touch -t 200001010000 "$2.p"
		gzip -n -k -f "$2.p"
		if [ -z "$(find "$2.p.gz" -newer "$2.p")" ]; then
			rm -f "$2.p" "$2.p.gz"
			exit 0
		fi
		rm -f "$2.p" "$2.p.gz"
		tr '\n' '\0' <"$2" | xargs -0 stat -c '%Y %n' | sort -n >"$2.m"
		for second in $(cut -d ' ' -f 1 "$2.m" | uniq); do
			awk -v s="$second" 'substr($0, 1, length(s) + 1) == s " " { print substr($0, length(s) + 2) }' "$2.m" >"$2"
			reference=$(head -n 1 "$2")
			sed 's#$#.gz#' "$2" | tr '\n' '\0' | xargs -0 touch -c -r "$reference"
		done
		rm -f "$2.m"
	)
}

# One commit deep; only the objects the server does not have yet travel.
fetch_branch() {
	step "fetch of $BRANCH"
	mark fetch
	git_repo fetch -q --depth 1 --no-tags "$CLONE_URL" "+refs/heads/$BRANCH:refs/remotes/origin/$BRANCH"
}

# Sets head to the commit of the branch at the origin. Fails, saying so, when the origin cannot be
# asked (with git's own message) or has no such branch. (Explicit returns: callers may test it,
# which turns `set -e` off inside.)
ask_head() {
	step "ls-remote of $BRANCH"
	head=""
	refs=$(git ls-remote "$CLONE_URL" "refs/heads/$BRANCH") || return 1
	# Lines "<sha><TAB><ref>"; the pattern also matches longer names ending in it.
	while IFS='	' read -r sha ref; do
		if [ "$ref" = "refs/heads/$BRANCH" ]; then head=$sha; fi
	done <<EOF
$refs
EOF
	if [ -z "$head" ]; then
		echo "branch $BRANCH not found at the origin" >&2
		return 1
	fi
}

# Whether the delivery named a commit (AFTER: 40 hex digits, not the zeros of a deleted branch).
pushed_commit() {
	case "$after" in
	*[!0-9a-f]* | 0000000000000000000000000000000000000000) return 1 ;;
	esac
	[ "${#after}" -eq 40 ]
}

# A delivery names the pushed commit (AFTER). It is fetched by its id while an ls-remote asks the
# origin for the branch's head, side by side: a fetch of the branch asks for the head first and
# then fetches, two round trips one after the other (about 50 ms each with the sandbox's git
# daemon, two HTTPS requests with GitHub); this waits for the longer of two at once. What is
# deployed is still the head: when it is not the pushed commit (a redelivery of an older push, or
# the branch moved on since), the head is fetched then. Sets new, or leaves it empty when the head
# is the served commit (and head in both cases).
fetch_pushed() {
	step "fetch of $BRANCH"
	mark fetch
	# Servers let a client fetch any commit they have by its id with protocol v2 (see PIN). Its
	# errors are not the sync's: the ls-remote's are, and a failed fetch is done again below.
	git_repo -c protocol.version=2 fetch -q --depth 1 --no-tags "$CLONE_URL" "+$after:refs/remotes/origin/$BRANCH" 2>/dev/null &
	fetching=$!
	asked=0
	ask_head || asked=1
	fetched=0
	wait "$fetching" || fetched=1
	[ "$asked" -eq 0 ] || return 1
	if [ "$head" = "$after" ] && [ "$fetched" -eq 0 ]; then
		new=$after
	elif [ "$head" != "$old" ]; then
		step "fetch of $BRANCH"
		git_repo -c protocol.version=2 fetch -q --depth 1 --no-tags "$CLONE_URL" "+$head:refs/remotes/origin/$BRANCH"
		new=$head
	fi
}

# Prints "releases/<id>" of the newest complete release of commit $1, or nothing. Names end with
# the short commit: only those are read. (The glob lists names in byte order, the newest last.)
release_of() {
	found=""
	for release in "$RELEASES"/*-"$(short "$1")"; do
		case "${release##*/}" in [0-9]*T[0-9]*Z-[0-9a-f]*) ;; *) continue ;; esac
		[ -f "$release/.selfpages-complete" ] || continue
		line=""
		read -r line <"$release/.selfpages-commit" || true
		if [ "$line" = "$1" ]; then found=releases/${release##*/}; fi
	done
	printf '%s\n' "$found"
}

# Fails, saying so, when release $1 ("releases/<id>", of commit $2) has no directory FOLDER: nginx
# would answer 404 for the whole site. (A symlink is no directory in git's tree either.)
check_folder() {
	if [ -n "$FOLDER" ] && { [ ! -d "$SITE_ROOT/$1/$FOLDER" ] || [ -L "$SITE_ROOT/$1/$FOLDER" ]; }; then
		no_folder "$2"
	fi
}
no_folder() {
	echo "$what $(short "$1") has no folder /$FOLDER" >&2
	return 1
}

# The commit $1 is served already. `pulumi up` may have changed FOLDER: manual checks it again.
up_to_date() {
	if [ "$mode" = manual ]; then
		step "check of the folder /$FOLDER"
		check_folder "$old_release" "$1"
	fi
	log "up to date $(short "$1")${PIN:+ (pinned)}"
}

# One rename(2): a visitor gets the old release or the new one, never a mix.
switch_current() {
	step "switch to $1"
	if [ -e "$CURRENT.new" ] || [ -L "$CURRENT.new" ]; then rm -f "$CURRENT.new"; fi
	ln -s "releases/$1" "$CURRENT.new"
	mv -T -f "$CURRENT.new" "$CURRENT"
	mark switched
	report success "$new"
}

# Serves the kept release $1 ("releases/<id>", complete, of commit $new) again: a rollback, or the
# way back from one. Nothing to fetch or build. The release left keeps its git index (only a build
# removes the others'), so that going back to it is as quick, and a build may start from it.
switch_to_kept() {
	check_folder "$1" "$new"
	report start "$new"
	switch_current "${1#releases/}"
	rotate_log || true
	if [ -f "$SITE_ROOT/$1/.selfpages-index" ]; then
		prepare_spare "${1#releases/}" || log "warning: could not copy the release for the next deploy"
	fi
	mark finished
	log "deployed $(short "$new") (previous $(short "${old:-none}")) from the kept release ${1#releases/} in $(($(date +%s) - started))s"
	log "phases$phases"
}

# One sync. Runs in a subshell with `set -e`; on failure the caller logs what failed and
# removes the half-built release. old_release and old (its commit) are the caller's.
deploy() {
	started=${start_seconds:-0}
	[ -d "$RELEASES" ] || mkdir -p "$RELEASES"
	remove_incomplete "$old_release"

	if [ ! -d "$REPO" ]; then
		rm -rf "$REPO.new"
		git init -q --bare "$REPO.new"
		mv "$REPO.new" "$REPO"
	fi
	# What the error naming a missing folder calls the commit.
	what="branch $BRANCH at"
	held=""
	if [ -n "$PIN" ]; then
		what="pinned commit"
		# The origin is not asked: the push is not served, whatever it is.
		pushed=$after
		case "$pushed" in *[!0-9a-fA-F]*) pushed=$(clean "$pushed") ;; esac
		case "$mode" in
		webhook) log "pinned to $(short "$PIN"): push ${pushed:+of $(short "$pushed") }to $BRANCH not deployed" ;;
		cron) log "pinned to $(short "$PIN"): the head of $BRANCH is not deployed" ;;
		esac
		if [ "$PIN" = "$old" ]; then
			if [ "$mode" = manual ]; then up_to_date "$PIN"; fi
			return 0
		fi
		new=$PIN
		held=$(release_of "$new")
		if [ -z "$held" ]; then
			# Servers let a client fetch any commit they have by its id with protocol v2 (GitHub,
			# git daemon, file://); v0 allows only the heads it lists.
			step "fetch of the pinned commit $(short "$PIN")"
			mark fetch
			git_repo -c protocol.version=2 fetch -q --depth 1 --no-tags "$CLONE_URL" "$PIN"
			git_repo rev-parse --verify -q "$PIN^{commit}" >/dev/null
		fi
	else
		new=""
		if [ "$mode" = webhook ] && pushed_commit && [ "$after" != "$old" ]; then
			# A delivery names the pushed commit: fetched by its id beside the ls-remote.
			fetch_pushed
			if [ -z "$new" ]; then
				up_to_date "$head"
				return 0
			fi
		else
			# `pulumi up` (or a delivery without a usable commit) means a new commit: fetch the
			# branch at once. cron usually finds nothing new, which one ls-remote tells without
			# writing anything; it is also the way back when that fetch fails, for the origin's
			# own reason in the log.
			if [ "$mode" = cron ] || ! fetch_branch 2>/dev/null; then
				mark lsremote
				ask_head || return 1
				if [ "$head" = "$old" ]; then
					up_to_date "$head"
					return 0
				fi
				fetch_branch
			fi
			new=$(git_repo rev-parse --verify -q "refs/remotes/origin/$BRANCH^{commit}")
			if [ "$new" = "$old" ]; then
				up_to_date "$new"
				return 0
			fi
		fi
		# A push back to a commit deployed before (or the unpinned head): its release is kept.
		held=$(release_of "$new")
	fi
	if [ -n "$held" ]; then
		switch_to_kept "$held"
		return 0
	fi
	report start "$new"

	# One date for the milestone and the release's name.
	mark fetched %Y%m%dT%H%M%SZ
	id=$(release_id "$new" "$stamp")
	building=$RELEASES/$id
	index=$building/.selfpages-index
	kept=$STATE_DIR/sync.kept
	plan=$STATE_DIR/sync.plan
	tree=$STATE_DIR/sync.tree
	step "build of $id"
	[ "releases/$id" != "$old_release" ]
	# With sizes: the plan leaves out what is too small to compress (see plan_build).
	git_repo ls-tree -r -l "$new" >"$tree"
	if [ -n "$FOLDER" ]; then
		# The entry itself: a directory ("tree"), not a file or a symlink of that name.
		case "$(git_repo ls-tree "$new" -- "$FOLDER")" in
		"040000 tree "*) ;;
		*) no_folder "$new" ;;
		esac
	fi
	if [ -e "$building" ] || [ -L "$building" ]; then rm -rf "$building"; fi
	# The release to start from: the current one, or after a switch to a kept release that lost
	# its git index, the newest that has one (the one left by the switch).
	base=""
	if [ -n "$old" ] && [ -f "$SITE_ROOT/$old_release/.selfpages-index" ]; then
		base=$old_release
	else
		for name in $(release_names); do
			if [ -f "$RELEASES/$name/.selfpages-complete" ] && [ -f "$RELEASES/$name/.selfpages-index" ]; then
				base=releases/$name
				break
			fi
		done
	fi
	incremental=""
	if [ -n "$base" ]; then
		# Hardlinks to every file of that release, then git rewrites what changed: the spare if
		# it copies that release, else a copy made now.
		spare=""
		if [ -f "$SPARE/.selfpages-spare" ]; then read -r spare <"$SPARE/.selfpages-spare" || true; fi
		if [ -d "$SPARE" ] && [ "$spare" = "$base" ]; then
			mv "$SPARE" "$building"
		else
			cp -al "$SITE_ROOT/$base" "$building"
		fi
		rm -f "$building/.selfpages-complete" "$building/.selfpages-commit" "$building/.selfpages-gz" "$building/.selfpages-br" "$building/.selfpages-spare" "$building/.selfpages-folder"
		# The index's stat data matches the linked files (same inodes; ctime changed with the
		# link count, hence core.trustctime=false): refreshing it reads no file content. Status 1
		# only means some file differs (read-tree --reset restores it); more is an unusable index.
		refreshed=0
		GIT_INDEX_FILE=$index git_repo --work-tree="$building" update-index -q --refresh >/dev/null || refreshed=$?
		if [ "$refreshed" -le 1 ]; then
			incremental=yes
		else
			log "warning: the index of $base is unusable: full checkout"
			rm -rf "$building"
		fi
	fi
	# First release (or the current one cannot be reused): a full checkout.
	if [ -z "$incremental" ]; then mkdir "$building"; fi
	previous=$(short "${old:-none}")

	# What changes, from the release's index (old) to the new commit. Needs no object of the
	# old commit: the index has the old blob ids.
	GIT_INDEX_FILE=$index git_repo diff-index -R --cached --no-renames --name-status "$new" >"$plan.changes"
	mark planned
	# The FOLDER the base release was compressed for ("" for all of it, and in releases made
	# before FOLDER): when that left out part of this FOLDER, every path is a candidate once.
	widen=""
	if [ -n "$incremental" ] && [ -f "$SITE_ROOT/$base/.selfpages-folder" ]; then
		scope=""
		read -r scope <"$SITE_ROOT/$base/.selfpages-folder" || true
		if [ -n "$scope" ] && [ "$scope" != "$FOLDER" ]; then widen=all; fi
	fi
	# The previous manifests; a release of a version without an encoding: every file may need it once.
	manifest_gz="" all_gz=$widen manifest_br="" all_br=$widen
	if [ -n "$incremental" ]; then
		manifest_gz=$SITE_ROOT/$base/.selfpages-gz manifest_br=$SITE_ROOT/$base/.selfpages-br
		if [ ! -f "$manifest_gz" ]; then manifest_gz="" all_gz=all; fi
		if [ ! -f "$manifest_br" ]; then manifest_br="" all_br=all; fi
	fi
	: >"$kept.gz"
	: >"$kept.br"
	# Words "compress.gz", "changed.br"...: which encodings have work (most deploys change no text
	# asset, and start no compressor then).
	planned=0
	work=$(plan_build "$manifest_gz" "$all_gz" "$manifest_br" "$all_br" <"$plan.changes") || planned=$?
	if [ "$planned" -eq 3 ]; then
		echo "the commit has top-level files named .selfpages-*, which are this script's own" >&2
		return 1
	fi
	[ "$planned" -eq 0 ]
	# Generated files of changed or deleted sources go first (and before git, so a directory
	# emptied by the commit can be removed by it).
	if [ -f "$plan.rm" ]; then remove_listed "$building" <"$plan.rm"; fi

	step "checkout of $(short "$new") into $id"
	# --reset: files the site now tracks replace ours, a hand-edited file is restored.
	GIT_INDEX_FILE=$index git_repo --work-tree="$building" read-tree --reset -u "$new"
	mark checkedout

	step "precompression in $id"
	# Manifests shared with the base release (linked together, one process).
	set --
	for sfx in .gz .br; do
		name=.selfpages-${sfx#.}
		case "$work " in
		*" compress$sfx "*) precompress "$building" "$plan$sfx" "$sfx" >"$plan.new" ;;
		*) : >"$plan.new" ;;
		esac
		# Most deploys generate the same files as the previous one: the manifest is then shared
		# (it is never written in place), as a 20 000-file site's is 400 KB.
		unchanged=yes
		case "$work " in *" changed$sfx "*) unchanged="" ;; esac
		if [ -n "$incremental" ] && [ -n "$unchanged" ] && [ ! -s "$plan.new" ]; then
			set -- "$@" "$SITE_ROOT/$base/$name"
		else
			sort -u "$kept$sfx" "$plan.new" >"$plan.list"
			if [ -n "$incremental" ] && cmp -s "$plan.list" "$SITE_ROOT/$base/$name"; then
				ln "$SITE_ROOT/$base/$name" "$building/$name"
			else
				mv "$plan.list" "$building/$name"
			fi
		fi
		if [ "$sfx" = .br ] && [ "$#" -gt 0 ]; then ln "$@" "$building/"; fi
		mark "${sfx#.}"
	done
	printf '%s\n' "$new" >"$building/.selfpages-commit"
	if [ -n "$FOLDER" ]; then printf '%s\n' "$FOLDER" >"$building/.selfpages-folder"; fi
	: >"$building/.selfpages-complete"

	switch_current "$id"
	rotate_log || true

	# Small deploys never wait for the spare's index to settle (see prepare_spare).
	settle=""
	if [ "$(wc -l <"$plan.changes")" -gt 1000 ]; then settle=settle; fi
	rm -f "$kept.gz" "$kept.br" "$plan.gz" "$plan.br" "$plan.rm" "$plan.new" "$plan.list" "$plan.changes" "$tree"

	# Deployed: what follows only frees disk or prepares the next deploy, and cannot fail the sync.
	# Only the current release's index is read (by the next sync); an older one would cost each
	# kept release 100 bytes a file (2 MB for 20 000 files) for nothing. (Usually one: the
	# previous release's, and the one a switch to a kept release left.)
	for file in "$RELEASES"/*/.selfpages-index; do
		if [ "$file" != "$index" ] && [ -f "$file" ]; then rm -f "$file" || true; fi
	done
	prune_releases || log "warning: could not remove old releases"
	prepare_spare "$id" "$settle" || log "warning: could not copy the release for the next deploy"
	maintain_repo >/dev/null 2>&1 || log "warning: git maintenance failed"
	mark finished
	log "deployed $(short "$new") (previous $previous) in $(($(date +%s) - started))s"
	log "phases$phases"
}

# Runs one sync, with `set -e`, in a subshell that does not inherit the lock's descriptor; sets
# rc to its status and logs a failure. Never call it in a condition (`sync_once || ...`): sh
# ignores `set -e` everywhere inside one, subshells included.
sync_once() {
	old_release=$(current_release)
	old=$(commit_of "$old_release")
	if [ -e "$STEP_FILE" ]; then
		# The last sync was killed (its step file outlived it). We hold the lock: no git runs in
		# the clone now, so lock files left there are stale and would fail every fetch.
		log "recovering from a sync interrupted during $({ redact <"$STEP_FILE"; } 2>/dev/null)"
		if [ -d "$REPO" ]; then find "$REPO" -path "$REPO/objects" -prune -o -type f -name '*.lock' -exec rm -f {} \; ; fi
		rm -f "$CURRENT.new"
		rm -rf "$SPARE.new"
	fi
	set +e
	(
		set -e
		deploy
	) 2>"$ERR_FILE" 9>&-
	rc=$?
	set -e
	# One failure status whatever failed (git's 128 included): 2 stays for a usage error.
	if [ "$rc" -ne 0 ]; then rc=1; fi
	if [ "$rc" -ne 0 ]; then
		remove_incomplete 2>/dev/null || true
		rm -f "$CURRENT.new"
		log "error: $({ redact <"$STEP_FILE"; } 2>/dev/null) failed; still serving $(short "${old:-nothing}")"
		report failure "$after" "$({ redact <"$STEP_FILE"; } 2>/dev/null) failed: $(grep -v '^[[:space:]]*$' "$ERR_FILE" | tail -n 1 | redact)"
		# git ends some messages with a blank line: the log keeps the last five that say something.
		grep -v '^[[:space:]]*$' "$ERR_FILE" | tail -n 5 | redact | while IFS= read -r line; do log "error: $line"; done
	else
		redact <"$ERR_FILE" >&3
	fi
	rm -f "$ERR_FILE" "$STEP_FILE"
	# The pushed commit is what the first sync deploys; the next ones, for queued deliveries, are not.
	after=""
}

# The log stays small: past 1 MiB it moves to .1 (the holder of the lock does it, once nobody
# waits: after a switch, or before it lets go of the lock).
rotate_log() {
	if [ -f "$LOG_FILE" ] && [ "$(wc -c <"$LOG_FILE")" -gt 1048576 ]; then mv -f "$LOG_FILE" "$LOG_FILE.1"; fi
}

[ -d "$STATE_DIR" ] || mkdir -p "$STATE_DIR"
exec 9>>"$LOCK"
if [ "$mode" = manual ]; then
	# pulumi up needs a real result: wait for a running sync (polling: busybox flock has no -w).
	waited=0
	until flock -n 9; do
		if [ "$waited" -ge "$LOCK_WAIT" ]; then
			log "error: another sync held the lock for ${LOCK_WAIT}s"
			exit 1
		fi
		sleep 1
		waited=$((waited + 1))
	done
	mark locked
	sync_once
	status=$rc
else
	# Leave the flag first, then try the lock: if it is held, its holder sees the flag.
	: >"$PENDING"
	if ! flock -n 9; then
		log "queued: a running sync will sync once more"
		exit 0
	fi
	mark locked
	status=0
fi

while :; do
	while [ -e "$PENDING" ]; do
		rm -f "$PENDING"
		sync_once
		# manual reports its own sync; the ones it runs for queued deliveries are only logged.
		if [ "$rc" -ne 0 ] && [ "$mode" != manual ]; then status=1; fi
	done
	rotate_log || true
	flock -u 9
	# A request between the last check and the unlock found the lock held and left its flag.
	[ -e "$PENDING" ] || break
	flock -n 9 || break
done
exit "$status"
