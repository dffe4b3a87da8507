import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { syncScriptFile } from "../lib/hostFiles";
import { hostFile, type Connection } from "../lib/hostCommand";
import { formerlyUnder } from "../lib/options";

export interface SyncProgramArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
    /** Where stacks made by still earlier releases hold this step (under the one site). */
    aliases?: pulumi.Input<pulumi.Alias>[];
}

export interface SyncProgram {
    program: command.remote.Command;
    /** What the program is: a new one deploys every site again. */
    content: string;
}

/** The sync program (files/sync.sh), one for every site, one step of the server's: each run is told its site's parameters. */
export function installSyncProgram(name: string, args: SyncProgramArgs, opts: pulumi.CustomResourceOptions): SyncProgram {
    const file = syncScriptFile(args.settings);
    const program = hostFile(
        `${name}-program`,
        { connection: args.connection, ...file },
        { ...opts, aliases: [formerlyUnder(name, "selfpages:site:SyncProgram", opts), ...(args.aliases ?? [])] },
    );
    return { program, content: file.content };
}
