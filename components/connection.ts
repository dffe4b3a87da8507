import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { hostCommand, type Connection } from "../lib/hostCommand";
import { commandConnection, sshTarget } from "../lib/ssh";

export interface HostConnectionArgs {
    settings: Settings;
    privateKey: pulumi.Input<string>;
}

/**
 * The SSH connection every other command uses, and a first command that waits for the host and
 * refuses a host whose key differs from the pinned one (connection.hostKey). The host checks
 * (lib/hostChecks.ts) are not run again here: the preflight of the same `up` (index.ts) ran them
 * before any resource was declared, so one SSH check per `up`.
 */
export class HostConnection extends pulumi.ComponentResource {
    public readonly connection: pulumi.Output<Connection>;
    /** Everything that touches the host depends on this. */
    public readonly ready: command.remote.Command;

    constructor(name: string, args: HostConnectionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:connection:HostConnection", name, {}, opts);
        const { settings } = args;
        this.connection = pulumi.secret(args.privateKey).apply((privateKey) => commandConnection(sshTarget(settings, privateKey)));
        this.ready = hostCommand(
            `${name}-ready`,
            {
                connection: this.connection,
                create: "true",
                triggers: [settings.host.address, settings.host.port, settings.host.hostKey, settings.os],
            },
            { parent: this, deleteBeforeReplace: true },
        );
        this.registerOutputs({ connection: this.connection, ready: this.ready });
    }
}
