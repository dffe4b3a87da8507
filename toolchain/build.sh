#!/usr/bin/env bash
# Builds the Pulumi toolchain from source, never downloading a release binary, and caches each
# binary outside the repo under a key of its version and recipe:
#   pulumi                    the CLI, from its Go module (github.com/pulumi/pulumi/pkg/v3)
#   pulumi-language-nodejs    the Node language host, from its snapshot in shared/third_party
#   pulumi-resource-command   @pulumi/command's provider plugin, from its snapshot
#   pulumi-resource-random    @pulumi/random's provider plugin, from its snapshot
# Prints the directory holding pulumi and the language host (the plugins are installed into
# PULUMI_HOME by toolchain/install-plugins.sh, where the engine looks for them).
#   SELFPAGES_USE_SYSTEM_PULUMI=1   use the `pulumi` already on PATH (installed the usual way)
#   SELFPAGES_THIRD_PARTY=DIR       where the source snapshots are (default: ../shared/third_party)
# Without the snapshots (a clone from GitHub) and with nothing cached, the `pulumi` on PATH is
# used as with SELFPAGES_USE_SYSTEM_PULUMI=1, or one line says what to install.
set -euo pipefail
shopt -s inherit_errexit
here=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=versions.env
source "$here/versions.env"
third_party=${SELFPAGES_THIRD_PARTY:-$here/../$THIRD_PARTY_DIR}
cache="${SELFPAGES_CACHE:-$HOME/.cache/selfpages}/toolchain"

# system_pulumi: the directory of the `pulumi` on PATH, if its version can run this SDK
# (PULUMI_VERSION, the version of @pulumi/pulumi in package.json: the same major, not older).
system_pulumi() {
    local cli version
    cli=$(command -v pulumi) || { echo "toolchain: no \`pulumi\` on PATH: install Pulumi $PULUMI_VERSION (curl -fsSL https://get.pulumi.com | sh -s -- --version $PULUMI_VERSION) and put it on PATH$1" >&2; return 1; }
    version=$(PULUMI_SKIP_UPDATE_CHECK=true "$cli" version 2>/dev/null) || version=unknown
    version=${version#v}
    if [[ ${version%%.*} != "${PULUMI_VERSION%%.*}" ]] || [[ $(printf '%s\n' "$PULUMI_VERSION" "$version" | sort -V | head -n1) != "$PULUMI_VERSION" ]]; then
        echo "toolchain: $cli is Pulumi $version; @pulumi/pulumi $PULUMI_VERSION needs a 3.x CLI of $PULUMI_VERSION or newer: install it (curl -fsSL https://get.pulumi.com | sh -s -- --version $PULUMI_VERSION) first on PATH$1" >&2
        return 1
    fi
    dirname "$cli"
}

if [[ ${SELFPAGES_USE_SYSTEM_PULUMI:-} == 1 ]]; then
    system_pulumi ""
    exit 0
fi
mkdir -p "$cache"

export CGO_ENABLED=0 GOFLAGS=-mod=mod
# The checksum database has no record of some pulumi module versions the proxy serves.
export GONOSUMDB=github.com/pulumi
sdk_version_flag=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version

# cached NAME VERSION RECIPE_FUNCTION: the path of NAME built by RECIPE_FUNCTION, built only when
# no binary with the same name, version, recipe and Go version is cached.
cache_dir() { # NAME VERSION RECIPE_FUNCTION
    local key
    key=$( (echo "$1 $2"; declare -f "$3" go_build copy_snapshot; go env GOVERSION) | sha256sum | cut -c1-16)
    echo "$cache/$1-$2-$key"
}

cached() {
    local name=$1 version=$2 recipe=$3 dir work started=$SECONDS
    dir=$(cache_dir "$name" "$version" "$recipe")
    if [[ ! -x $dir/$name ]]; then
        exec 9>"$cache/.$name.lock"
        flock 9
        if [[ ! -x $dir/$name ]]; then
            echo "toolchain: building $name $version" >&2
            work="$cache/build-$name"
            rm -rf "$work"
            mkdir -p "$work"
            (cd "$work"; "$recipe" "$version" "$work/$name") >&2
            rm -rf "$dir"
            mkdir -p "$dir"
            mv "$work/$name" "$dir/$name"
            rm -rf "$work"
            echo "toolchain: $name $version built in $((SECONDS - started)) s" >&2
        fi
        exec 9>&-
    fi
    echo "$dir/$name"
}

go_build() { # package output version-flag=version
    go build -trimpath -tags osusergo,grpcnotrace -ldflags "-s -w -X $3" -o "$2" "$1"
}

# A snapshot is read-only and not ours: it is copied to the scratch directory and every change
# the build needs is made there, by the recipe, in plain sight.
copy_snapshot() { # relative-dir
    [[ -d $third_party/$1 ]] || { echo "toolchain: missing source snapshot $third_party/$1" >&2; return 1; }
    cp -R "$third_party/$1/." src
    chmod -R u+w src
}

recipe_cli() { # version output
    # pkg/v3's go.mod has replace lines, so `go install pkg@version` refuses it: build it as a
    # dependency of a small wrapper module instead, with the one replace it needs from outside.
    cat >go.mod <<MOD
module selfpages.local/toolchain/cli

go 1.25

require (
	github.com/pulumi/pulumi/pkg/v3 v$1
	github.com/pulumi/pulumi/sdk/v3 v$1
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' >tools.go
    go mod tidy
    go_build github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$2" "$sdk_version_flag=v$1"
}

recipe_language_host() { # version output
    copy_snapshot "pulumi-language-nodejs-$1/sdk/nodejs/cmd/pulumi-language-nodejs"
    cd src
    # Upstream builds it inside the monorepo: its go.mod points pkg/v3 and sdk/v3 at ../../..;
    # outside it, they are the released modules of the same version.
    go mod edit -dropreplace github.com/pulumi/pulumi/pkg/v3 -dropreplace github.com/pulumi/pulumi/sdk/v3 \
        -require "github.com/pulumi/pulumi/pkg/v3@v$1" -require "github.com/pulumi/pulumi/sdk/v3@v$1"
    go mod tidy
    go_build . "$2" "$sdk_version_flag=v$1"
}

recipe_command() { # version output
    copy_snapshot "pulumi-command-$1/provider"
    cd src
    go_build ./cmd/pulumi-resource-command "$2" "github.com/pulumi/pulumi-command/provider/pkg/version.Version=$1"
}

recipe_random() { # version output
    copy_snapshot "pulumi-random-$1/provider"
    cd src
    # Upstream's own step: writes schema-embed.json, which main.go embeds.
    VERSION=$1 go generate ./cmd/pulumi-resource-random
    go_build ./cmd/pulumi-resource-random "$2" "github.com/pulumi/pulumi-random/provider/v4/pkg/version.Version=$1"
}

# A clone without the snapshots builds nothing it cannot finish: with the three snapshot-built
# binaries not cached already, the `pulumi` on PATH it is (install-plugins.sh then installs the
# plugins the usual way), or one line says what to do.
if [[ ! -d $third_party ]]; then
    for binary in "pulumi-language-nodejs $PULUMI_VERSION recipe_language_host" "pulumi-resource-command $COMMAND_VERSION recipe_command" "pulumi-resource-random $RANDOM_VERSION recipe_random"; do
        read -r name version recipe <<<"$binary"
        if ! command -v go >/dev/null || [[ ! -x $(cache_dir "$name" "$version" "$recipe")/$name ]]; then
            dir=$(system_pulumi "; or set SELFPAGES_THIRD_PARTY to the directory of the source snapshots (none in $third_party)") || exit 1
            echo "toolchain: no source snapshots in $third_party (a clone without ../shared): using $dir/pulumi" >&2
            echo "$dir"
            exit 0
        fi
    done
fi

cli=$(cached pulumi "$PULUMI_VERSION" recipe_cli)
language_host=$(cached pulumi-language-nodejs "$PULUMI_VERSION" recipe_language_host)
command_plugin=$(cached pulumi-resource-command "$COMMAND_VERSION" recipe_command)
random_plugin=$(cached pulumi-resource-random "$RANDOM_VERSION" recipe_random)

# The bin directory the engine runs from: the CLI with its bundled parts beside it. The engine
# looks for the language host and the dynamic-provider shim (a script of @pulumi/pulumi that runs
# the project's own copy of the SDK) next to its own executable, symlinks resolved, before PATH
# (where it warns): hence hard links, not symbolic ones. The plugins
# are linked under plugins/ for install-plugins.sh, not put on PATH. The shim is the SDK's with the
# program's start-up settings (dynamicProviderShim.sh).
shim="$here/dynamicProviderShim.sh"
key=$( (echo "hard links: $cli $language_host $command_plugin $random_plugin"; cat "$shim") | sha256sum | cut -c1-16)
bin="$cache/bin-$key"
if [[ ! -x $bin/plugins/pulumi-resource-random ]]; then
    rm -rf "$bin.tmp"
    mkdir -p "$bin.tmp/plugins"
    ln "$cli" "$bin.tmp/pulumi"
    ln "$language_host" "$bin.tmp/pulumi-language-nodejs"
    install -m 0755 "$shim" "$bin.tmp/pulumi-resource-pulumi-nodejs"
    ln -s "$command_plugin" "$bin.tmp/plugins/pulumi-resource-command"
    ln -s "$random_plugin" "$bin.tmp/plugins/pulumi-resource-random"
    "$bin.tmp/pulumi" version >/dev/null
    rm -rf "$bin"
    mv "$bin.tmp" "$bin"
fi
echo "$bin"
