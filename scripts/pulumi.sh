#!/usr/bin/env bash
# `npm run -s pulumi -- ARGS`: the project's Pulumi, on a fresh clone or beside a `pulumi`
# installed the usual way. Installs what is missing (scripts/ensure-deps.sh), then runs the CLI
# built from source with its language host and plugins (toolchain/), or, with
# SELFPAGES_USE_SYSTEM_PULUMI=1 or without the source snapshots, the `pulumi` on PATH.
# State goes where `pulumi login` said (see the README: a local backend by default).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/scripts/ensure-deps.sh" >&2
bin=$(bash "$repo/toolchain/install-plugins.sh")
export PATH="$bin:$repo/node_modules/.bin:$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true
# Nothing to download here: the plugins it needs are installed above (built, or downloaded once
# for a `pulumi` installed the usual way).
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
exec pulumi "$@"
