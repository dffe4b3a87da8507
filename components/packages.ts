import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { hostCommand, type Connection } from "../lib/hostCommand";
import { formerlyUnder } from "../lib/options";

export interface PackagesArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
}

/**
 * The distro packages (nginx, git, webhook, cron, OpenRC), one step of the server's. The package
 * manager runs only when one is missing, so a re-run is cheap and works without a mirror.
 * `pulumi destroy` leaves them.
 */
export function installPackages(name: string, args: PackagesArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const { platform } = args.settings;
    return hostCommand(
        `${name}-install`,
        {
            connection: args.connection,
            create: `set -eu\nif ! { ${platform.packagesPresentCommand}; }; then\n${platform.packagesInstallCommand}\nfi\n${platform.packagesPresentCommand}`,
            triggers: [platform.family, ...platform.packages],
        },
        { ...opts, aliases: [formerlyUnder(name, "selfpages:packages:Packages", opts)] },
    );
}
