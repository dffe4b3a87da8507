import * as pulumi from "@pulumi/pulumi";

/**
 * A RunError without a stack trace, for the failures the program reports on purpose (invalid
 * config, failed preflight). The runtime never prints a RunError's stack anyway, but it passes every
 * uncaught error through `util.inspect(err, { colors: true })` for its tracing span. On Node
 * 20.20, inspect's node_modules highlighting never ends on a frame like
 * `node_modules/@pulumi/resource.ts` (a scope with no package directory after it, which is how
 * @pulumi/pulumi's source maps name their files): it restarts the search from the start of the
 * line and appends until the string is too long, which took 19 to 30 s and 3.2 GiB of RSS per
 * rejected config. Without a stack, the runtime uses the message as it is.
 */
export function runError(message: string): pulumi.RunError {
    const error = new pulumi.RunError(message);
    error.stack = undefined;
    return error;
}
