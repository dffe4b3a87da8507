import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions } from "../lib/options";
import { hostCommand, type Connection } from "../lib/hostCommand";
import type { Platform } from "../lib/platform";

export interface ServiceAccountArgs {
    connection: pulumi.Input<Connection>;
    platform: Platform;
    user: string;
}

/** The unprivileged account that runs the receiver, the syncs and owns the site's files. */
export class ServiceAccount extends pulumi.ComponentResource {
    public readonly user: string;
    public readonly account: command.remote.Command;

    constructor(name: string, args: ServiceAccountArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:account:ServiceAccount", name, {}, opts);
        this.user = args.user;
        this.account = hostCommand(
            `${name}-user`,
            {
                connection: args.connection,
                create: `set -eu\n${args.platform.createServiceAccountCommand(args.user)}`,
                delete: `set -eu\n${args.platform.removeServiceAccountCommand(args.user)}`,
                triggers: [args.user, args.platform.family],
            },
            { ...childOptions(this, opts), deleteBeforeReplace: true },
        );
        this.registerOutputs({ user: this.user });
    }
}
