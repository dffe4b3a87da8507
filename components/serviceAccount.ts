import * as pulumi from "@pulumi/pulumi";
import { RemoteCommand } from "../lib/providers/remoteCommand";
import { childOptions } from "../lib/options";
import type { Connection } from "../lib/remoteFile";
import type { Platform } from "../lib/platform";

export interface ServiceAccountArgs {
    connection: pulumi.Input<Connection>;
    platform: Platform;
    user: string;
}

/** The unprivileged account that runs the receiver, the syncs and owns the site's files. */
export class ServiceAccount extends pulumi.ComponentResource {
    public readonly user: string;
    public readonly account: RemoteCommand;

    constructor(name: string, args: ServiceAccountArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:account:ServiceAccount", name, {}, opts);
        this.user = args.user;
        this.account = new RemoteCommand(
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
