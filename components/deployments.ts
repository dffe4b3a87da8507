import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions, componentOptions } from "../lib/options";
import type { Settings } from "../lib/config";
import { deploymentsTokenFileSpec, deploymentsTokenHeader, deployReportFile } from "../lib/hostFiles";
import { hostFile, type Connection } from "../lib/hostCommand";
import { GitHubEnvironment } from "../lib/providers/githubEnvironment";

export interface DeploymentsArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
    /** The token kept on the host: allowed to write deployments only. */
    deploymentsToken: pulumi.Input<string>;
    /** The stack's GitHub token, which creates and deletes the environment. */
    githubToken: pulumi.Input<string>;
}

/**
 * Deployments in GitHub: an environment in each site's repository, as resources of the stack, and
 * on the host the reporter the sync program calls at each deploy and the deployments token, in a
 * file only the service account reads (curl gets it with -H @file: it is on no command line).
 * Each site's reporter parameters are the site's (components/site.ts).
 */
export class Deployments extends pulumi.ComponentResource {
    /** One per repository (two sites of one repository share it), by site name. */
    public readonly environments: GitHubEnvironment[];
    public readonly reporter: command.remote.Command;
    public readonly token: command.remote.Command;

    constructor(name: string, args: DeploymentsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:deployments:Deployments", name, {}, componentOptions(opts));
        const { settings } = args;

        const firstOfRepository = settings.sites.filter((site, i) => settings.sites.findIndex((other) => other.repository === site.repository) === i);
        this.environments = firstOfRepository.map(
            (site) =>
                // The one-site form's name is the one its stacks hold (selfpages-deployments-environment).
                new GitHubEnvironment(
                    `${site.name}-deployments-environment`,
                    { apiUrl: settings.github.apiUrl, token: args.githubToken, owner: site.owner, repo: site.repo, name: settings.deployments.environment },
                    { parent: this },
                ),
        );

        // The content is a secret (hostCommand keeps stdin secret): the header line with the token.
        this.token = hostFile(
            `${name}-token`,
            { connection: args.connection, ...deploymentsTokenFileSpec(settings), content: pulumi.secret(pulumi.output(args.deploymentsToken).apply(deploymentsTokenHeader)) },
            childOptions(this, opts),
        );
        this.reporter = hostFile(`${name}-reporter`, { connection: args.connection, ...deployReportFile(settings) }, childOptions(this, opts, [this.token]));
        this.registerOutputs({ environments: this.environments, reporter: this.reporter, token: this.token });
    }
}
