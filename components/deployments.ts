import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions } from "../lib/options";
import type { Settings } from "../lib/config";
import { deployReportConfigFile, deploymentsTokenFileSpec, deploymentsTokenHeader, deployReportFile } from "../lib/hostFiles";
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
 * Deployments in GitHub: the environment, as a resource of the stack, and on the host the reporter
 * the sync script calls at each deploy, its parameters, and the deployments token in a file only
 * the service account reads (curl gets it with -H @file: it is on no command line).
 */
export class Deployments extends pulumi.ComponentResource {
    public readonly environment: GitHubEnvironment;
    public readonly reporter: command.remote.Command;
    public readonly token: command.remote.Command;

    constructor(name: string, args: DeploymentsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:deployments:Deployments", name, {}, opts);
        const { settings } = args;

        this.environment = new GitHubEnvironment(
            `${name}-environment`,
            { apiUrl: settings.github.apiUrl, token: args.githubToken, owner: settings.github.owner, repo: settings.github.repo, name: settings.deployments.environment },
            { parent: this },
        );

        // Stacks made before the reporter had parameters of its own hold this step as the one that
        // made the reporter's directories (now made with all the others): the alias takes it over.
        const config = hostFile(`${name}-reporter-config`, { connection: args.connection, ...deployReportConfigFile(settings) }, { ...childOptions(this, opts), aliases: [{ name: `${name}-directories` }] });
        // The content is a secret (hostCommand keeps stdin secret): the header line with the token.
        this.token = hostFile(
            `${name}-token`,
            { connection: args.connection, ...deploymentsTokenFileSpec(settings), content: pulumi.secret(pulumi.output(args.deploymentsToken).apply(deploymentsTokenHeader)) },
            childOptions(this, opts, [config]),
        );
        this.reporter = hostFile(`${name}-reporter`, { connection: args.connection, ...deployReportFile(settings) }, childOptions(this, opts, [this.token]));
        this.registerOutputs({ environment: this.environment, reporter: this.reporter, token: this.token });
    }
}
