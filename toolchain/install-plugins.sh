#!/usr/bin/env bash
# Installs the provider plugins that build.sh made into PULUMI_HOME (default ~/.pulumi), where the
# engine looks for a resource plugin of an exact version, with `pulumi plugin install --file`:
# no "using ... from $PATH" warning, and `pulumi plugin ls` lists them. With a `pulumi` installed
# the usual way, the plugins are downloaded (the usual `pulumi plugin install`). Idempotent;
# prints the toolchain's bin directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(bash "$here/build.sh")

# shellcheck source=versions.env
source "$here/versions.env"
# Pulumi takes the home directory from the user database, not from $HOME.
home=${PULUMI_HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)/.pulumi}
for plugin in "command $COMMAND_VERSION" "random $RANDOM_VERSION"; do
    read -r name version <<<"$plugin"
    dir="$home/plugins/resource-$name-v$version"
    if [[ -x $dir/pulumi-resource-$name && ! -e $dir.partial ]]; then continue; fi
    echo "toolchain: installing plugin $name $version into $home/plugins" >&2
    if [[ -e $bin/plugins/pulumi-resource-$name ]]; then
        PULUMI_HOME=$home PULUMI_SKIP_UPDATE_CHECK=true "$bin/pulumi" plugin install resource "$name" "$version" \
            --file "$(readlink -f "$bin/plugins/pulumi-resource-$name")" >&2
    else
        # A `pulumi` installed the usual way (build.sh built nothing): its plugins come the usual
        # way too, downloaded once here, so that every run can keep plugin downloads off.
        PULUMI_HOME=$home PULUMI_SKIP_UPDATE_CHECK=true "$bin/pulumi" plugin install resource "$name" "$version" >&2 ||
            { echo "toolchain: the $name $version plugin is neither installed nor downloadable: run \`pulumi plugin install resource $name $version\` where the internet is reachable (PULUMI_HOME=$home)" >&2; exit 1; }
    fi
done
echo "$bin"
