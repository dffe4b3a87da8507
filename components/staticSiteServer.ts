import { componentOptions } from "../lib/options";
import * as pulumi from "@pulumi/pulumi";
import { oneServerName, serverSettings, type ServerSettings, type Settings } from "../lib/config";
import { connectToHost } from "./connection";
import { installFallbackCron } from "./cron";
import { Nginx } from "./nginx";
import { installPackages } from "./packages";
import { Receiver } from "./receiver";
import { createServiceAccount } from "./serviceAccount";
import { Site } from "./site";
import { AcmeClient, SiteCertificate } from "./tls";
import { CertificateExport, CertificatePull } from "./certificateSharing";
import { certificateLead, certificatePeers } from "../lib/hostFiles";
import { installSyncProgram } from "./syncProgram";
import { Deployments } from "./deployments";
import { createHostDirectories } from "./directories";

const required = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`StaticSiteServer: settings.deployments.enabled needs ${name}`);
    return value;
};

export interface StaticSiteServerArgs {
    /** The stack's settings; `server` says which server this is. */
    settings: Settings;
    server: ServerSettings;
    hostPrivateKey: pulumi.Input<string>;
    githubToken: pulumi.Input<string>;
    /** Each site's webhook secret (components/webhooks.ts), by site name. */
    webhookSecrets: Record<string, pulumi.Input<string>>;
    /** Set when settings.deployments.enabled: the token the host reports deploys to GitHub with. */
    githubDeploymentsToken?: pulumi.Input<string>;
    /** Whether this server reports deploys to GitHub: one deployment per commit per site, so one server (the first). */
    reportsDeployments: boolean;
    /** Set when the preflight found this fleet server unfit: its steps fail with this, the others go on. */
    preflightFailure?: string;
}

/**
 * A bare Alpine (or Debian + OpenRC) host turned into the server of static sites, each published
 * on a git branch: packages, service account, directories, the sync program and each site (its
 * files and first deploy), nginx serving every site (with each site's certificate), the webhook
 * (one receiver, a hook and a secret per site, each site's GitHub hook), the fallback cron, and
 * (with its token) deployments reported to GitHub.
 */
export class StaticSiteServer extends pulumi.ComponentResource {
    /** The receiver: GitHub's hooks switch secrets once it accepts them; it retires the previous ones after. */
    public readonly receiver: Receiver;
    /** What GitHub's hooks wait for on this server: the receiver accepting the secrets, nginx routing to it (and, one server with TLS, its certificate). */
    public readonly receiving: pulumi.Resource[];
    /** The server's name in `servers`. */
    public readonly serverName: string;
    /** With TLS in a fleet: on the lead, its certificates' export to the peers; on a peer, its pull from the lead. */
    private readonly certificateExport?: CertificateExport;
    private readonly certificatePull?: CertificatePull;
    /** The issue steps of the certificates this server orders, and what a peer's first pull waits for on its side. */
    private readonly issued: pulumi.CustomResource[];
    private readonly serving: pulumi.Resource[];

    constructor(name: string, args: StaticSiteServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:index:StaticSiteServer", name, {}, componentOptions(opts));
        const settings = serverSettings(args.settings, args.server);
        this.serverName = args.server.name;
        // Children named after a site: the one-server form's server keeps the names its stacks hold,
        // another server's are prefixed with its name (a dot: no site or server name has one).
        const named = (child: string) => (args.server.name === oneServerName ? child : `${args.server.name}.${child}`);

        // Concerns of a single step are steps of the server; the others are components of their own.
        const host = connectToHost(`${name}-host`, { settings, privateKey: args.hostPrivateKey, preflightFailure: args.preflightFailure }, { parent: this });
        const { connection } = host;
        const packages = installPackages(`${name}-packages`, { connection, settings }, { parent: this, dependsOn: [host.ready] });
        const account = createServiceAccount(`${name}-account`, { connection, settings }, { parent: this, dependsOn: [packages] });
        // Stacks made by earlier releases hold some steps under other components: aliases carry them over.
        const formerly = (component: string, type: string, step: string): pulumi.Alias => ({ name: `${name}-${step}`, parent: pulumi.createUrn(`${name}-${component}`, type, this) });
        const directories = createHostDirectories(`${name}-directories`, { connection, settings, aliases: [formerly("site", "selfpages:site:Site", "site-directories")] }, { parent: this, dependsOn: [account] });
        // The deploy reporter is in place before the sites' first deploys, which it reports.
        const deployments = settings.deployments.enabled && args.reportsDeployments
            ? [new Deployments(`${name}-deployments`, { connection, settings, deploymentsToken: required(args.githubDeploymentsToken, "githubDeploymentsToken"), githubToken: args.githubToken }, { parent: this, dependsOn: [directories] })]
            : [];
        const sync = installSyncProgram(`${name}-sync`, { connection, settings, aliases: [formerly("site", "selfpages:site:Site", "site-sync-script")] }, { parent: this, dependsOn: [directories] });
        const sites = settings.sites.map(
            (site) => new Site(named(`${site.name}-site`), { connection, settings, site, syncProgram: { step: sync.program, content: sync.content }, reportsDeployments: deployments.length > 0 }, { parent: this, dependsOn: [directories, ...deployments] }),
        );
        const afterSites = { parent: this, dependsOn: sites };

        // With TLS, nginx comes between each certificate's files (at first, a placeholder) and its
        // issuance. In a fleet the lead alone orders; a peer serves the placeholder until it has
        // pulled the lead's certificates (components/certificateSharing.ts).
        const tls = settings.tls;
        const lead = certificateLead(settings);
        const orders = lead === undefined;
        const tlsSettings = tls ? { ...settings, tls } : undefined;
        const acme = tlsSettings ? new AcmeClient(`${name}-tls`, { connection, settings: tlsSettings, orders, renewalJobAliases: [formerly("cron", "selfpages:cron:FallbackCron", "cron-acme-daily")] }, afterSites) : undefined;
        const certificates = tlsSettings
            ? settings.sites.flatMap((site) => {
                  const names = site.certificateNames;
                  return names ? [new SiteCertificate(named(`${site.name}-certificate`), { connection, settings: tlsSettings, site: { ...site, certificateNames: names }, orders }, { parent: this, dependsOn: [...sites, ...(acme ? [acme.directories] : [])] })] : [];
              })
            : [];
        const nginx = new Nginx(`${name}-nginx`, { connection, settings }, { parent: this, dependsOn: [...sites, ...certificates.flatMap((c) => c.prepared)] });
        // One after the other: they share uacme's account and reload the same nginx.
        const issued: pulumi.CustomResource[] = [];
        // The ACME client (its program, the CA bundle to trust) is installed meanwhile: only the issue waits for it.
        if (orders) for (const certificate of certificates) issued.push(certificate.issue([nginx.reloaded, ...(acme?.ready ?? []), ...issued.slice(-1)]));
        this.issued = issued;
        this.serving = [nginx.reloaded];
        if (tlsSettings && lead) this.certificatePull = new CertificatePull(`${name}-certificate-pull`, { connection, settings: tlsSettings, lead }, afterSites);
        if (tlsSettings && certificatePeers(settings).length > 0) this.certificateExport = new CertificateExport(`${name}-certificate-export`, { connection, settings: tlsSettings }, afterSites);

        this.receiver = new Receiver(`${name}-receiver`, { connection, settings, secrets: args.webhookSecrets }, afterSites);
        // A fleet's hooks deliver to http://<address>/webhook/<site>, which needs no certificate:
        // they are created while the lead's are ordered. The one-server form's hook is the site's URL.
        this.receiving = [this.receiver.hooksApplied, nginx.reloaded, ...(settings.fleet ? [] : issued)];
        installFallbackCron(`${name}-cron`, { connection, settings }, afterSites);
        this.registerOutputs({});
    }

    /**
     * On a fleet's lead: lets `peer` fetch the certificates, and returns what the peer's first
     * fetch waits for (the certificates issued, the export in place, its key allowed).
     */
    shareCertificatesWith(peer: StaticSiteServer): { ready: pulumi.Resource[]; issued: pulumi.Input<string>[] } {
        if (!this.certificateExport) throw new Error(`StaticSiteServer ${this.serverName}: only a fleet's lead with TLS shares certificates`);
        const access = this.certificateExport.authorize({ name: peer.serverName, publicKey: peer.pullKey() });
        return { ready: [access, ...this.certificateExport.ready, ...this.issued], issued: this.issued.map((step) => step.id) };
    }

    /** On a fleet's peer: fetches the lead's certificates during `up`, once `lead` (shareCertificatesWith) is done. */
    pullCertificates(lead: { ready: pulumi.Resource[]; issued: pulumi.Input<string>[] }): void {
        if (!this.certificatePull) throw new Error(`StaticSiteServer ${this.serverName}: only a fleet's peer with TLS pulls certificates`);
        this.certificatePull.pull([...lead.ready, ...this.serving], lead.issued);
    }

    private pullKey(): pulumi.Output<string> {
        if (!this.certificatePull) throw new Error(`StaticSiteServer ${this.serverName}: not a fleet's peer with TLS`);
        return this.certificatePull.publicKey;
    }
}
