import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions, componentOptions } from "../lib/options";
import type { Settings, SiteSettings } from "../lib/config";
import { deployReportConfigFile, syncCommand, syncConfigFile } from "../lib/hostFiles";
import { hostCommand, hostFile, sha256, type Connection } from "../lib/hostCommand";
import { createDirectoriesScript, removeDirectoriesScript, siteDirectories } from "../lib/layout";
import { shellQuote } from "../lib/templates";

export interface SiteArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
    site: SiteSettings;
    /** The sync program's step and content: a new program deploys every site again. */
    syncProgram: { step: pulumi.Resource; content: string };
    /** This server reports deploys to GitHub (the first of a fleet): the reporter's parameters are written here only. */
    reportsDeployments: boolean;
}

/**
 * One site on the host: its directories, its sync parameters (and its deploy reporter's), and its
 * first deploy, a synchronous run of the sync program that `current` points at when it ends. The
 * same program serves the site's webhook and cron fallback, under the site's own lock.
 * Removing the site from the config removes its files on the next `up`.
 */
export class Site extends pulumi.ComponentResource {
    /** The first (and, when the program, the parameters or the pin change, a fresh) synchronous deploy. */
    public readonly deployed: command.remote.Command;

    constructor(name: string, args: SiteArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:site:Site", name, {}, componentOptions(opts));
        const { settings, site, connection } = args;
        const directories = siteDirectories(settings.layout, site.layout, site.certificateNames !== undefined);

        const made = hostCommand(
            `${name}-own-directories`,
            {
                connection,
                create: createDirectoriesScript(directories),
                delete: removeDirectoriesScript(directories),
                // A move replaces the step, and its delete empties the site's directories: the
                // certificate's directory is left out, so that TLS switched on or off only updates it.
                triggers: siteDirectories(settings.layout, site.layout, false).map((d) => `${d.path} ${d.owner}:${d.group} ${d.mode}`),
            },
            { ...childOptions(this, opts), deleteBeforeReplace: true },
        );
        const config = syncConfigFile(settings, site);
        const syncConfig = hostFile(`${name}-sync-config`, { connection, ...config }, childOptions(this, opts, [made]));
        const reporterConfig = args.reportsDeployments ? [hostFile(`${name}-reporter-config`, { connection, ...deployReportConfigFile(settings, site) }, childOptions(this, opts, [made]))] : [];

        this.deployed = hostCommand(
            `${name}-first-deploy`,
            {
                connection,
                create: `su -s /bin/sh ${settings.layout.serviceUser} -c ${shellQuote(syncCommand(settings, site, "manual"))}`,
                // A new program or new parameters (a pin among them) deploy again right away instead of waiting for a push.
                triggers: [sha256(args.syncProgram.content), sha256(config.content)],
            },
            childOptions(this, opts, [args.syncProgram.step, syncConfig, ...reporterConfig]),
        );
        this.registerOutputs({ deployed: this.deployed });
    }
}
