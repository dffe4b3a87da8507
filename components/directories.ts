import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { hostCommand, type Connection } from "../lib/hostCommand";
import { createDirectoriesScript, hostDirectories, removeDirectoriesScript, serverDirectories } from "../lib/layout";
import { childOptions, componentOptions } from "../lib/options";

export interface HostDirectoriesArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
    /** Where stacks made by earlier releases hold this step (the site's directories step). */
    aliases?: pulumi.Input<pulumi.Alias>[];
}

/**
 * Every directory the stack writes to (lib/layout.ts declares them), made in one step before any
 * file goes into them; `pulumi destroy` removes them (the certificate's: components/tls.ts).
 */
export class HostDirectories extends pulumi.ComponentResource {
    public readonly created: command.remote.Command;

    constructor(name: string, args: HostDirectoriesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:directories:HostDirectories", name, {}, componentOptions(opts));
        const { layout } = args.settings;
        this.created = hostCommand(
            `${name}-install`,
            {
                connection: args.connection,
                create: createDirectoriesScript(hostDirectories(args.settings)),
                // The certificate's own step removes its directories (it runs when TLS is switched off too).
                delete: removeDirectoriesScript(serverDirectories(layout)),
                // A new site root (or account) makes them anew; the others follow from it and never move.
                triggers: [layout.siteRoot, layout.stateDir, layout.logDir, layout.configDir, `${layout.serviceUser}:${layout.serviceUser}`],
            },
            { ...childOptions(this, opts), deleteBeforeReplace: true, aliases: args.aliases },
        );
        this.registerOutputs({ created: this.created });
    }
}
