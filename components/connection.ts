import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { hostCommand, type Connection } from "../lib/hostCommand";
import { hostCheckScript } from "../lib/hostChecks";
import { commandConnection, sshTarget } from "../lib/ssh";

export interface HostConnectionArgs {
    settings: Settings;
    privateKey: pulumi.Input<string>;
}

/**
 * The SSH connection every other command uses, and a first command that waits for the host,
 * refuses a host whose key differs from the pinned one (connection.hostKey), and runs the host
 * checks (lib/hostChecks.ts) before anything is changed.
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
                create: hostCheckScript(settings),
                triggers: [settings.host.address, settings.host.port, settings.host.hostKey, settings.os],
            },
            { parent: this, deleteBeforeReplace: true },
        );
        this.registerOutputs({ connection: this.connection, ready: this.ready });
    }
}
