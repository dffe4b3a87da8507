import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions, componentOptions } from "../lib/options";
import type { Settings } from "../lib/config";
import { syncScriptFile } from "../lib/hostFiles";
import { hostFile, type Connection } from "../lib/hostCommand";

export interface SyncProgramArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
    /** Where stacks made by earlier releases hold this step (under the one site). */
    aliases?: pulumi.Input<pulumi.Alias>[];
}

/** The sync program (files/sync.sh), one for every site: each run is told its site's parameters. */
export class SyncProgram extends pulumi.ComponentResource {
    public readonly program: command.remote.Command;
    public readonly content: string;

    constructor(name: string, args: SyncProgramArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:site:SyncProgram", name, {}, componentOptions(opts));
        const file = syncScriptFile(args.settings);
        this.content = file.content;
        this.program = hostFile(`${name}-program`, { connection: args.connection, ...file }, { ...childOptions(this, opts), aliases: args.aliases });
        this.registerOutputs({ program: this.program });
    }
}
