import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions } from "../lib/options";
import type { Settings } from "../lib/config";
import { syncConfigFile, syncScriptFile } from "../lib/hostFiles";
import { hostCommand, hostFile, sha256, type Connection } from "../lib/hostCommand";
import { shellQuote } from "../lib/templates";

export interface SiteArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
}

/**
 * The sync script, its parameters, and the first deploy: a shallow clone of the branch
 * into a release that `current` points at. The same script serves the webhook and the cron
 * fallback, under one lock.
 */
export class Site extends pulumi.ComponentResource {
    public readonly syncScript: command.remote.Command;
    /** The first (and, when the script or source changes, a fresh) synchronous deploy. */
    public readonly deployed: command.remote.Command;

    constructor(name: string, args: SiteArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:site:Site", name, {}, opts);
        const { settings } = args;
        const { layout } = settings;
        const q = shellQuote;

        const script = syncScriptFile(settings);
        this.syncScript = hostFile(`${name}-sync-script`, { connection: args.connection, ...script }, childOptions(this, opts));
        const config = syncConfigFile(settings);
        const syncConfig = hostFile(`${name}-sync-config`, { connection: args.connection, ...config }, childOptions(this, opts));

        this.deployed = hostCommand(
            `${name}-first-deploy`,
            {
                connection: args.connection,
                create: `su -s /bin/sh ${layout.serviceUser} -c ${q(`${layout.syncScript} manual`)}`,
                // A new script or source deploys again right away instead of waiting for a push.
                triggers: [sha256(script.content), sha256(config.content)],
            },
            childOptions(this, opts, [this.syncScript, syncConfig]),
        );
        this.registerOutputs({ syncScript: this.syncScript, deployed: this.deployed });
    }
}
