import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions } from "../lib/options";
import type { Settings } from "../lib/config";
import { deploymentsTokenFile, deploymentsTokenHeader, deployReportFile } from "../lib/hostFiles";
import { hostCommand, hostFile, type Connection } from "../lib/hostCommand";
import { shellQuote } from "../lib/templates";
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
 * the sync script calls at each deploy, with the deployments token in a file only the service
 * account reads (curl gets it with -H @file: it is on no command line).
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

        // These files come before the site's first deploy (which they report), so before the
        // Site's own directories step: their directories are made here with the same owners and
        // modes (busybox install may leave those of an existing directory); the Site removes them.
        const { layout } = settings;
        const q = shellQuote;
        const directories = hostCommand(
            `${name}-directories`,
            {
                connection: args.connection,
                create: [
                    "set -eu",
                    `install -d -o root -g ${layout.serviceUser} -m 0750 ${q(path.posix.dirname(layout.deploymentsTokenFile))}`,
                    `install -d -o root -g root -m 0755 ${q(path.posix.dirname(layout.deployReport))}`,
                ].join("\n"),
            },
            childOptions(this, opts),
        );

        // The content is a secret (hostCommand keeps stdin secret): the header line with the token.
        const tokenFile = deploymentsTokenFile(settings, "");
        this.token = hostFile(
            `${name}-token`,
            { connection: args.connection, ...tokenFile, content: pulumi.secret(pulumi.output(args.deploymentsToken).apply(deploymentsTokenHeader)) },
            childOptions(this, opts, [directories]),
        );
        this.reporter = hostFile(`${name}-reporter`, { connection: args.connection, ...deployReportFile(settings) }, childOptions(this, opts, [this.token]));
        this.registerOutputs({ environment: this.environment, reporter: this.reporter, token: this.token });
    }
}
