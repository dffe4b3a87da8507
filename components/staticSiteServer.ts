import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { HostConnection } from "./connection";
import { FallbackCron } from "./cron";
import { Nginx } from "./nginx";
import { Packages } from "./packages";
import { Receiver } from "./receiver";
import { ServiceAccount } from "./serviceAccount";
import { Site } from "./site";
import { AcmeClient, SiteCertificate } from "./tls";
import { SyncProgram } from "./syncProgram";
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
 * A bare Alpine (or Debian + OpenRC) host turned into the server of static sites, each published
 * on a git branch: packages, service account, directories, the sync program and each site (its
 * files and first deploy), nginx serving every site (with each site's certificate), the webhook
 * (one receiver, a hook and a secret per site, each site's GitHub hook), the fallback cron, and
 * (with its token) deployments reported to GitHub.
 */
export class StaticSiteServer extends pulumi.ComponentResource {
    /** Each site's URL, webhook URL and GitHub hook id, by site name. */
    public readonly sites: Record<string, { url: string; webhookUrl: string; hookId: pulumi.Output<number> }>;

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
        // The deploy reporter is in place before the sites' first deploys, which it reports.
        const deployments = settings.deployments.enabled
            ? [new Deployments(`${name}-deployments`, { connection, settings, deploymentsToken: required(args.githubDeploymentsToken, "githubDeploymentsToken"), githubToken: args.githubToken }, { parent: this, dependsOn: [directories] })]
            : [];
        const sync = new SyncProgram(`${name}-sync`, { connection, settings, aliases: [formerly("site", "selfpages:site:Site", "site-sync-script")] }, { parent: this, dependsOn: [directories] });
        const sites = settings.sites.map(
            (site) => new Site(`${site.name}-site`, { connection, settings, site, syncProgram: { step: sync.program, content: sync.content } }, { parent: this, dependsOn: [directories, ...deployments] }),
        );
        const afterSites = { parent: this, dependsOn: sites };

        // With TLS, nginx comes between each certificate's files (at first, a placeholder) and its issuance.
        const tls = settings.tls;
        const acme = tls ? new AcmeClient(`${name}-tls`, { connection, settings: { ...settings, tls }, renewalJobAliases: [formerly("cron", "selfpages:cron:FallbackCron", "cron-acme-daily")] }, afterSites) : undefined;
        const certificates = tls
            ? settings.sites.flatMap((site) => {
                  const names = site.certificateNames;
                  return names ? [new SiteCertificate(`${site.name}-certificate`, { connection, settings: { ...settings, tls }, site: { ...site, certificateNames: names } }, { parent: this, dependsOn: [...sites, ...(acme?.ready ?? [])] })] : [];
              })
            : [];
        const nginx = new Nginx(`${name}-nginx`, { connection, settings }, { parent: this, dependsOn: [...sites, ...certificates.flatMap((c) => c.prepared)] });
        // One after the other: they share uacme's account and reload the same nginx.
        const issued: pulumi.Resource[] = [];
        for (const certificate of certificates) issued.push(certificate.issue([nginx.reloaded, ...issued.slice(-1)]));

        const receiver = new Receiver(`${name}-receiver`, { connection, settings, githubToken: args.githubToken, reachableAfter: [nginx.reloaded, ...issued] }, afterSites);
        new FallbackCron(`${name}-cron`, { connection, settings }, afterSites);

        this.sites = Object.fromEntries(settings.sites.map((site) => [site.name, { url: site.url, webhookUrl: site.hookUrl, hookId: receiver.hookIds[site.name] }]));
        this.registerOutputs({ sites: this.sites });
    }
}
