#!/usr/bin/env bash
# Builds the Pulumi CLI and the Node language host from their Go modules, never downloading a
# release binary, and caches them outside the repo keyed by version. Prints the bin directory.
#   SELFPAGES_USE_SYSTEM_PULUMI=1   use the `pulumi` already on PATH (installed the usual way)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [[ ${SELFPAGES_USE_SYSTEM_PULUMI:-} == 1 ]]; then
    dirname "$(command -v pulumi)"
    exit 0
fi

# shellcheck source=versions.env
source "$here/versions.env"
key=$( (cat "$here/versions.env" "$here/build.sh"; go env GOVERSION) | sha256sum | cut -c1-16)
cache="${SELFPAGES_CACHE:-$HOME/.cache/selfpages}/toolchain"
bin="$cache/$key/bin"
if [[ -x $bin/pulumi && -x $bin/pulumi-language-nodejs ]]; then echo "$bin"; exit 0; fi

mkdir -p "$cache"
exec 9>"$cache/.build.lock"
flock 9
if [[ -x $bin/pulumi && -x $bin/pulumi-language-nodejs ]]; then echo "$bin"; exit 0; fi

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/cli" "$work/lang"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
# The checksum database has no record of some pulumi module versions the proxy serves.
export GONOSUMDB=github.com/pulumi
version_flag=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version

build() { # module-dir package version output
    local dir=$1 package=$2 version=$3 output=$4 started=$SECONDS
    echo "toolchain: building $(basename "$output") ($version)" >&2
    (cd "$dir" && go mod tidy >&2 && go build -trimpath -tags osusergo,grpcnotrace -ldflags "-s -w -X $version_flag=$version" -o "$output" "$package")
    echo "toolchain: $(basename "$output") built in $((SECONDS - started)) s" >&2
}

# pkg/v3's go.mod has replace lines, so `go install pkg@version` refuses it: build it as a
# dependency of a small wrapper module instead, with the one replace it needs from outside.
cat >"$work/cli/go.mod" <<MOD
module selfpages.local/toolchain/cli

go 1.25

require (
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' >"$work/cli/tools.go"
build "$work/cli" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$PULUMI_VERSION" "$work/bin/pulumi"

cat >"$work/lang/go.mod" <<MOD
module selfpages.local/toolchain/lang

go 1.25

require github.com/pulumi/pulumi/sdk/v3 $LANGUAGE_HOST_SDK_VERSION
MOD
printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"\n' >"$work/lang/tools.go"
build "$work/lang" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs "$LANGUAGE_HOST_SDK_VERSION" "$work/bin/pulumi-language-nodejs"

"$work/bin/pulumi" version >/dev/null
rm -rf "$cache/$key"
mkdir -p "$cache/$key"
mv "$work/bin" "$bin"
echo "$bin"
