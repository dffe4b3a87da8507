import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { hostCommand, type Connection } from "../lib/hostCommand";
import { formerlyUnder } from "../lib/options";

export interface ServiceAccountArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
}

/** The unprivileged account that runs the receiver, the syncs and owns the site's files: one step of the server's. */
export function createServiceAccount(name: string, args: ServiceAccountArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const { platform, layout } = args.settings;
    return hostCommand(
        `${name}-user`,
        {
            connection: args.connection,
            create: `set -eu\n${platform.createServiceAccountCommand(layout.serviceUser)}`,
            delete: `set -eu\n${platform.removeServiceAccountCommand(layout.serviceUser)}`,
            triggers: [layout.serviceUser, platform.family],
        },
        { ...opts, deleteBeforeReplace: true, aliases: [formerlyUnder(name, "selfpages:account:ServiceAccount", opts)] },
    );
}
