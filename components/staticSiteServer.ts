import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { HostConnection } from "./connection";
import { FallbackCron } from "./cron";
import { Nginx } from "./nginx";
import { Packages } from "./packages";
import { Receiver } from "./receiver";
import { ServiceAccount } from "./serviceAccount";
import { Site } from "./site";
import { Certificate } from "./tls";
import { Deployments } from "./deployments";
import { HostDirectories } from "./directories";

const required = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`StaticSiteServer: settings.deployments.enabled needs ${name}`);
    return value;
};

export interface StaticSiteServerArgs {
    settings: Settings;
    hostPrivateKey: pulumi.Input<string>;
    githubToken: pulumi.Input<string>;
    /** Set when settings.deployments.enabled: the token the host reports deploys to GitHub with. */
    githubDeploymentsToken?: pulumi.Input<string>;
}

/**
 * A bare Alpine (or Debian + OpenRC) host turned into the server of a static site published on a
 * git branch: packages, service account, directories, site and sync script, nginx (with its
 * certificate), the webhook (receiver, secret and GitHub hook), the fallback cron, and (with its
 * token) deployments reported to GitHub.
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
        // Stacks made by earlier releases hold some steps under other components: aliases carry them over.
        const formerly = (component: string, type: string, step: string): pulumi.Alias => ({ name: `${name}-${step}`, parent: pulumi.createUrn(`${name}-${component}`, type, this) });
        const directories = new HostDirectories(`${name}-directories`, { connection, settings, aliases: [formerly("site", "selfpages:site:Site", "site-directories")] }, { parent: this, dependsOn: [account] });
        // The deploy reporter is in place before the site's first deploy, which it reports.
        const deployments = settings.deployments.enabled
            ? [new Deployments(`${name}-deployments`, { connection, settings, deploymentsToken: required(args.githubDeploymentsToken, "githubDeploymentsToken"), githubToken: args.githubToken }, { parent: this, dependsOn: [directories] })]
            : [];
        const site = new Site(`${name}-site`, { connection, settings }, { parent: this, dependsOn: [directories, ...deployments] });
        const afterSite = { parent: this, dependsOn: [site] };
        const serveSite = (certificateFiles: pulumi.Resource[]) => new Nginx(`${name}-nginx`, { connection, settings }, { parent: this, dependsOn: [site, ...certificateFiles] });
        // With TLS, nginx comes between the certificate's files (a placeholder at first) and its issuance.
        const certificate = settings.tls
            ? new Certificate(
                  `${name}-tls`,
                  { connection, settings: { ...settings, tls: settings.tls }, nginx: serveSite, renewalJobAliases: [formerly("cron", "selfpages:cron:FallbackCron", "cron-acme-daily")] },
                  afterSite,
              )
            : undefined;
        const nginx = certificate?.nginx ?? serveSite([]);
        const receiver = new Receiver(`${name}-receiver`, { connection, settings, githubToken: args.githubToken, reachableAfter: [nginx.reloaded, ...(certificate ? [certificate.issued] : [])] }, afterSite);
        new FallbackCron(`${name}-cron`, { connection, settings }, afterSite);

        this.siteUrl = settings.siteUrl;
        this.webhookUrl = settings.receiver.publicUrl;
        this.hookId = receiver.hookId;
        this.registerOutputs({ siteUrl: this.siteUrl, webhookUrl: this.webhookUrl, hookId: this.hookId });
    }
}
