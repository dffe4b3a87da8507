import * as pulumi from "@pulumi/pulumi";
import { hookUrlOn, type Settings, type ValidatedConfig } from "../lib/config";
import { StaticSiteServer } from "./staticSiteServer";
import { SiteWebhooks } from "./webhooks";

export interface FleetArgs {
    settings: Settings;
    secrets: ValidatedConfig["secrets"];
    /** Fleet servers the preflight found unfit, by server name, with the reason. */
    preflightFailures?: Record<string, string>;
}

export interface FleetOutputs {
    /** Each site's URL, the first server's webhook URL and GitHub hook id, by site name. */
    sites: Record<string, { url: string; webhookUrl: string; hookId: pulumi.Output<number> }>;
    /** Each server's address, by server name. */
    servers: Record<string, string>;
}

/**
 * Every site on every server: the stack's webhook secrets and GitHub hooks (one set for the whole
 * fleet), a StaticSiteServer per server (all provisioned in parallel: nothing orders one server's
 * steps after another's, but for a peer's first fetch of the certificates, which waits for the
 * lead's issuance), the hooks once every receiver accepts the secrets, and each receiver retiring
 * the previous secrets once every hook switched.
 */
export function declareFleet(args: FleetArgs): FleetOutputs {
    const { settings, secrets } = args;
    const githubToken = pulumi.secret(secrets.githubToken);
    const webhooks = new SiteWebhooks("selfpages-webhooks", { settings, githubToken });
    const servers = settings.servers.map(
        (server, i) =>
            new StaticSiteServer(server.name, {
                settings,
                server,
                hostPrivateKey: pulumi.secret(secrets.serverPrivateKeys[server.name]),
                githubToken,
                webhookSecrets: webhooks.secrets,
                githubDeploymentsToken: secrets.githubDeploymentsToken === undefined ? undefined : pulumi.secret(secrets.githubDeploymentsToken),
                reportsDeployments: i === 0,
                preflightFailure: args.preflightFailures?.[server.name],
            }),
    );
    // With TLS, the first server orders every certificate and the others fetch them from it.
    const [lead, ...peers] = servers;
    // A step per peer on the lead: a peer that cannot be reached holds up only its own.
    if (settings.tls) for (const peer of peers) peer.pullCertificates(lead.shareCertificatesWith(peer));
    const hooks = webhooks.deliverTo(settings.servers.map((server, i) => ({ server, ready: servers[i].receiving })));
    for (const server of servers) server.receiver.retirePreviousSecrets(hooks);

    const [first] = settings.servers;
    return {
        sites: Object.fromEntries(settings.sites.map((site) => [site.name, { url: site.url, webhookUrl: hookUrlOn(settings, site, first), hookId: webhooks.hookIds[site.name] }])),
        servers: Object.fromEntries(settings.servers.map((server) => [server.name, server.host.address])),
    };
}
