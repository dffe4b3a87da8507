import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { hostCommand, type Connection } from "../lib/hostCommand";
import { createDirectoriesScript, hostDirectories, removeDirectoriesScript, serverDirectories } from "../lib/layout";
import { formerlyUnder } from "../lib/options";

export interface HostDirectoriesArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
    /** Where stacks made by still earlier releases hold this step (the site's directories step). */
    aliases?: pulumi.Input<pulumi.Alias>[];
}

/**
 * Every directory the stack writes to (lib/layout.ts declares them), made in one step of the
 * server's before any file goes into them; `pulumi destroy` removes them (the certificate's:
 * components/tls.ts).
 */
export function createHostDirectories(name: string, args: HostDirectoriesArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const { layout } = args.settings;
    return hostCommand(
        `${name}-install`,
        {
            connection: args.connection,
            create: createDirectoriesScript(hostDirectories(args.settings)),
            // The certificate's own step removes its directories (it runs when TLS is switched off too).
            delete: removeDirectoriesScript(serverDirectories(layout)),
            // A new site root (or account) makes them anew; the others follow from it and never move.
            triggers: [layout.siteRoot, layout.stateDir, layout.logDir, layout.configDir, `${layout.serviceUser}:${layout.serviceUser}`],
        },
        { ...opts, deleteBeforeReplace: true, aliases: [formerlyUnder(name, "selfpages:directories:HostDirectories", opts), ...(args.aliases ?? [])] },
    );
}
