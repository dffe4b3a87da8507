#!/usr/bin/env bash
# Installs the provider plugins that build.sh made into PULUMI_HOME (default ~/.pulumi), where the
# engine looks for a resource plugin of an exact version, with `pulumi plugin install --file`:
# no "using ... from $PATH" warning, and `pulumi plugin ls` lists them. Idempotent; prints the
# toolchain's bin directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(bash "$here/build.sh")
if [[ ${SELFPAGES_USE_SYSTEM_PULUMI:-} == 1 ]]; then echo "$bin"; exit 0; fi # the engine fetches them

# shellcheck source=versions.env
source "$here/versions.env"
# Pulumi takes the home directory from the user database, not from $HOME.
home=${PULUMI_HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)/.pulumi}
for plugin in "command $COMMAND_VERSION" "random $RANDOM_VERSION"; do
    read -r name version <<<"$plugin"
    dir="$home/plugins/resource-$name-v$version"
    if [[ -x $dir/pulumi-resource-$name && ! -e $dir.partial ]]; then continue; fi
    echo "toolchain: installing plugin $name $version into $home/plugins" >&2
    PULUMI_HOME=$home PULUMI_SKIP_UPDATE_CHECK=true "$bin/pulumi" plugin install resource "$name" "$version" \
        --file "$(readlink -f "$bin/plugins/pulumi-resource-$name")" >&2
done
echo "$bin"
