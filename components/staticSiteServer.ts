import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { hostLayout } from "../lib/layout";
import { platformFor } from "../lib/platform";
import { HostConnection } from "./connection";
import { FallbackCron } from "./cron";
import { Deployments } from "./deployments";
import { GitHubWebhook } from "./githubWebhook";
import { Nginx } from "./nginx";
import { Packages } from "./packages";
import { Receiver } from "./receiver";
import { ServiceAccount } from "./serviceAccount";
import { Site } from "./site";
import { WebhookSecrets } from "./webhookSecrets";

export interface StaticSiteServerArgs {
    settings: Settings;
    hostPrivateKey: pulumi.Input<string>;
    githubToken: pulumi.Input<string>;
    /** Set when settings.deployments.enabled: the token the host reports deploys to GitHub with. */
    githubDeploymentsToken?: pulumi.Input<string>;
}

/**
 * A bare Alpine (or Debian + OpenRC) host turned into the server of a static site published on a
 * git branch: packages, service account, site and sync script, nginx, receiver, fallback cron,
 * the GitHub webhook that points at it, and (with its token) deployments reported to GitHub.
 */
export class StaticSiteServer extends pulumi.ComponentResource {
    public readonly siteUrl: string;
    public readonly webhookUrl: string;
    public readonly hookId: pulumi.Output<number>;
    public readonly firstDeploy: pulumi.Output<string>;

    constructor(name: string, args: StaticSiteServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:index:StaticSiteServer", name, {}, opts);
        const { settings } = args;
        const platform = platformFor(settings.os);
        const child = { parent: this };

        const host = new HostConnection(`${name}-host`, { host: settings.host, os: settings.os, privateKey: args.hostPrivateKey }, child);
        const connection = host.connection;
        const afterReady = { parent: this, dependsOn: [host.ready] };

        const packages = new Packages(`${name}-packages`, { connection, platform }, afterReady);
        const account = new ServiceAccount(`${name}-account`, { connection, platform, user: hostLayout(settings).serviceUser }, { parent: this, dependsOn: [packages] });
        const afterAccount = { parent: this, dependsOn: [account] };

        // The reporter is in place before the site's first deploy, which it reports.
        let deployments: Deployments | undefined;
        if (settings.deployments.enabled) {
            if (args.githubDeploymentsToken === undefined) throw new Error("settings.deployments.enabled needs githubDeploymentsToken");
            deployments = new Deployments(`${name}-deployments`, { connection, settings, deploymentsToken: args.githubDeploymentsToken, githubToken: args.githubToken }, afterAccount);
        }
        const site = new Site(`${name}-site`, { connection, settings }, { parent: this, dependsOn: [account, ...(deployments ? [deployments] : [])] });
        const secrets = new WebhookSecrets(`${name}-webhook-secret`, { version: settings.webhookSecretVersion }, child);
        const receiver = new Receiver(
            `${name}-receiver`,
            { connection, settings, secret: secrets.current },
            { parent: this, dependsOn: [site] },
        );
        const nginx = new Nginx(`${name}-nginx`, { connection, settings }, { parent: this, dependsOn: [site] });
        new FallbackCron(`${name}-cron`, { connection, settings }, { parent: this, dependsOn: [site] });

        // GitHub switches to a new secret only once the receiver accepts it, and the receiver drops
        // the previous one only after GitHub switched: no delivery is refused during a rotation.
        const hook = new GitHubWebhook(
            `${name}-github-webhook`,
            {
                apiUrl: settings.github.apiUrl,
                token: args.githubToken,
                owner: settings.github.owner,
                repo: settings.github.repo,
                url: settings.receiver.publicUrl,
                secret: secrets.current,
                events: ["push"],
                contentType: "json",
                active: true,
            },
            { parent: this, dependsOn: [receiver.hooksApplied, nginx.reloaded] },
        );
        receiver.retirePrevious(hook);

        this.siteUrl = settings.site.url;
        this.webhookUrl = settings.receiver.publicUrl;
        this.hookId = hook.hookId;
        this.firstDeploy = site.deployOutput;
        this.registerOutputs({ siteUrl: this.siteUrl, webhookUrl: this.webhookUrl, hookId: this.hookId });
    }
}
