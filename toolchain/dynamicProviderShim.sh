#!/bin/sh
# The dynamic-provider plugin the engine starts for the GitHub resources (installed as
# pulumi-resource-pulumi-nodejs beside the CLI by build.sh): @pulumi/pulumi's own shim, which runs
# the project's copy of the SDK's provider, plus what the program gets too: its unused imports
# deferred (lib/deferImports.js, found from the SDK's path in the project) and the memory settings
# of Pulumi.yaml's nodeargs. Where that file is not, the SDK's shim as it is.
# The SDK is looked up as node's require.resolve would from here (node_modules of this directory,
# then of each parent), in the shell: a `node -e` to resolve it took 80 ms of every start.
dir=$PWD
while :; do
    script=$dir/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js
    [ -f "$script" ] && break
    if [ "$dir" = / ]; then
        script=$(node -e "console.log(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))") || exit 1
        break
    fi
    dir=$(dirname "$dir")
done
defer=${script%/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js}/lib/deferImports.js
if [ -f "$defer" ]; then
    exec node --max-semi-space-size=1 --optimize-for-size -r "$defer" "$script" "$@"
fi
exec node "$script" "$@"
