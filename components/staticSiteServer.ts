import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { HostConnection } from "./connection";
import { FallbackCron } from "./cron";
import { Nginx } from "./nginx";
import { Packages } from "./packages";
import { Receiver } from "./receiver";
import { ServiceAccount } from "./serviceAccount";
import { Site } from "./site";

export interface StaticSiteServerArgs {
    settings: Settings;
    hostPrivateKey: pulumi.Input<string>;
    githubToken: pulumi.Input<string>;
}

/**
 * A bare Alpine (or Debian + OpenRC) host turned into the server of a static site published on a
 * git branch: packages, service account, site and sync script, nginx, the webhook (receiver,
 * secret and GitHub hook), and the fallback cron.
 */
export class StaticSiteServer extends pulumi.ComponentResource {
    public readonly siteUrl: string;
    public readonly webhookUrl: string;
    public readonly hookId: pulumi.Output<number>;

    constructor(name: string, args: StaticSiteServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:index:StaticSiteServer", name, {}, opts);
        const { settings } = args;

        const host = new HostConnection(`${name}-host`, { settings, privateKey: args.hostPrivateKey }, { parent: this });
        const { connection } = host;
        const packages = new Packages(`${name}-packages`, { connection, settings }, { parent: this, dependsOn: [host.ready] });
        const account = new ServiceAccount(`${name}-account`, { connection, settings }, { parent: this, dependsOn: [packages] });
        const site = new Site(`${name}-site`, { connection, settings }, { parent: this, dependsOn: [account] });
        const afterSite = { parent: this, dependsOn: [site] };
        const nginx = new Nginx(`${name}-nginx`, { connection, settings }, afterSite);
        const receiver = new Receiver(`${name}-receiver`, { connection, settings, githubToken: args.githubToken, reachableAfter: [nginx.reloaded] }, afterSite);
        new FallbackCron(`${name}-cron`, { connection, settings }, afterSite);

        this.siteUrl = settings.siteUrl;
        this.webhookUrl = settings.receiver.publicUrl;
        this.hookId = receiver.hookId;
        this.registerOutputs({ siteUrl: this.siteUrl, webhookUrl: this.webhookUrl, hookId: this.hookId });
    }
}
