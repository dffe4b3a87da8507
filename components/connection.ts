import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { Settings } from "../lib/config";
import { hostCommand, type Connection } from "../lib/hostCommand";
import { platformFor } from "../lib/platform";
import { shellQuote } from "../lib/templates";

export interface HostConnectionArgs {
    host: Settings["host"];
    os: Settings["os"];
    privateKey: pulumi.Input<string>;
}

/**
 * The SSH connection every other command uses, and a first command that waits for the host,
 * refuses a host whose key differs from the pinned one (connection.hostKey), and checks that it
 * runs the configured OS family with OpenRC before anything is changed.
 */
export class HostConnection extends pulumi.ComponentResource {
    public readonly connection: pulumi.Output<Connection>;
    /** Everything that touches the host depends on this. */
    public readonly ready: command.remote.Command;

    constructor(name: string, args: HostConnectionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:connection:HostConnection", name, {}, opts);
        const platform = platformFor(args.os);
        this.connection = pulumi.secret(args.privateKey).apply((privateKey) => ({
            host: args.host.address,
            port: args.host.port,
            user: args.host.user,
            privateKey,
            hostKey: args.host.hostKey,
            // A freshly booted VM may take a while to accept SSH.
            dialErrorLimit: 30,
            perDialTimeout: 10,
        }));
        const expected = shellQuote(platform.osReleaseId);
        this.ready = hostCommand(
            `${name}-ready`,
            {
                connection: this.connection,
                create: [
                    ". /etc/os-release",
                    `if [ "$ID" != ${expected} ]; then echo "selfpages: expected an ${platform.family} host, found '$ID' (set selfpages:os)" >&2; exit 1; fi`,
                    'command -v openrc-run >/dev/null || command -v openrc >/dev/null || { [ "$ID" = alpine ] && apk add --no-cache openrc; } || { echo "selfpages: OpenRC is required" >&2; exit 1; }',
                    'if [ "$(id -u)" != 0 ]; then echo "selfpages: the SSH user must be root" >&2; exit 1; fi',
                    'echo "$ID $VERSION_ID"',
                ].join("\n"),
                triggers: [args.host.address, args.host.port, args.host.hostKey, args.os],
            },
            { parent: this, deleteBeforeReplace: true },
        );
        this.registerOutputs({ connection: this.connection, ready: this.ready });
    }
}
