import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { hostCommand, type Connection } from "../lib/hostCommand";
import { childOptions, componentOptions } from "../lib/options";

export interface ServiceAccountArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
}

/** The unprivileged account that runs the receiver, the syncs and owns the site's files. */
export class ServiceAccount extends pulumi.ComponentResource {
    public readonly account: command.remote.Command;

    constructor(name: string, args: ServiceAccountArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:account:ServiceAccount", name, {}, componentOptions(opts));
        const { platform, layout } = args.settings;
        this.account = hostCommand(
            `${name}-user`,
            {
                connection: args.connection,
                create: `set -eu\n${platform.createServiceAccountCommand(layout.serviceUser)}`,
                delete: `set -eu\n${platform.removeServiceAccountCommand(layout.serviceUser)}`,
                triggers: [layout.serviceUser, platform.family],
            },
            { ...childOptions(this, opts), deleteBeforeReplace: true },
        );
        this.registerOutputs({ account: this.account });
    }
}
