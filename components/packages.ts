import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { hostCommand, type Connection } from "../lib/hostCommand";
import { childOptions, componentOptions } from "../lib/options";

export interface PackagesArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
}

/**
 * The distro packages (nginx, git, webhook, cron, OpenRC). The package manager runs only when one
 * is missing, so a re-run is cheap and works without a mirror. `pulumi destroy` leaves them.
 */
export class Packages extends pulumi.ComponentResource {
    public readonly installed: command.remote.Command;

    constructor(name: string, args: PackagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:packages:Packages", name, {}, componentOptions(opts));
        const { platform } = args.settings;
        this.installed = hostCommand(
            `${name}-install`,
            {
                connection: args.connection,
                create: `set -eu\nif ! { ${platform.packagesPresentCommand}; }; then\n${platform.packagesInstallCommand}\nfi\n${platform.packagesPresentCommand}`,
                triggers: [platform.family, ...platform.packages],
            },
            childOptions(this, opts),
        );
        this.registerOutputs({ installed: this.installed });
    }
}
