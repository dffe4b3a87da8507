import { componentOptions } from "../lib/options";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { hookUrlOn, oneServerName, type ServerSettings, type Settings } from "../lib/config";
import { GitHubWebhook } from "../lib/providers/githubWebhook";

export interface SiteWebhooksArgs {
    settings: Settings;
    githubToken: pulumi.Input<string>;
}

/** A receiver's side of the hooks, for the hooks GitHub delivers to it. */
export interface ReceivingServer {
    server: ServerSettings;
    /** Each of its receivers accepts the new secret and nginx routes to it: GitHub may switch. */
    ready: pulumi.Resource[];
}

/** Where a one-server stack of an earlier release held the secrets and hooks: under its receiver. */
const formerParent = pulumi.createUrn(`${oneServerName}-receiver`, "selfpages:receiver:Receiver", pulumi.createUrn(oneServerName, "selfpages:index:StaticSiteServer"));

/**
 * What the stack shares with GitHub for every site, whatever the number of servers: the site's
 * webhook secret, generated in the stack (every server's receiver checks deliveries with it), and
 * the site's hooks in its repository: one for the one-server form, at the site's URL; in a fleet,
 * one per server at the server's address, so that every push reaches every server (GitHub allows
 * 20 hooks per event per repository, hence at most 20 servers) and GitHub's delivery log tells
 * which server missed one.
 */
export class SiteWebhooks extends pulumi.ComponentResource {
    /** Each site's current secret, by site name. */
    public readonly secrets: Record<string, pulumi.Output<string>>;
    /** Each site's hook on the first server (the one-server form's hook), by site name. */
    public hookIds: Record<string, pulumi.Output<number>> = {};
    private readonly args: SiteWebhooksArgs;

    constructor(name: string, args: SiteWebhooksArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:webhooks:SiteWebhooks", name, {}, componentOptions(opts));
        this.args = args;
        // Letters and digits only: the value goes into a JSON hooks file and GitHub's hook config.
        // RandomPassword marks its result secret; wrapping it says so here too.
        this.secrets = Object.fromEntries(
            args.settings.sites.map((site) => {
                const password = new random.RandomPassword(
                    `${site.name}-receiver-secret-v${site.secretVersion}`,
                    { length: 48, special: false, keepers: { version: String(site.secretVersion) } },
                    { parent: this, aliases: [{ parent: formerParent }] },
                );
                return [site.name, pulumi.secret(password.result)];
            }),
        );
    }

    /**
     * The hooks, once every server accepts the secrets (a rotation switches GitHub only when all
     * do). Returns them: each server retires the previous secrets after all have switched.
     */
    deliverTo(servers: ReceivingServer[]): GitHubWebhook[] {
        const { settings, githubToken } = this.args;
        const ready = servers.flatMap((s) => s.ready);
        const hooks = servers.flatMap(({ server }, serverIndex) =>
            settings.sites.map((site) => {
                // The server named by the one-server form keeps the names its stacks hold.
                const hookName = server.name === oneServerName ? `${site.name}-github-webhook` : `${server.name}.${site.name}-github-webhook`;
                const hook = new GitHubWebhook(
                    hookName,
                    {
                        apiUrl: settings.github.apiUrl,
                        token: githubToken,
                        owner: site.owner,
                        repo: site.repo,
                        url: hookUrlOn(settings, site, server),
                        secret: this.secrets[site.name],
                        events: ["push"],
                        contentType: "json",
                        active: true,
                    },
                    { parent: this, dependsOn: ready, aliases: [{ parent: formerParent }] },
                );
                if (serverIndex === 0) this.hookIds[site.name] = hook.hookId;
                return hook;
            }),
        );
        this.registerOutputs({ hookIds: this.hookIds });
        return hooks;
    }
}
