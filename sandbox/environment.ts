import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { startGitHubStandin, type GitHubStandin } from "./github/server";
import { hostDown, hostUp, type SandboxHost } from "./hostInstance";
import { SitePublisher } from "./origin";
import { sandboxStack } from "./stack";
import { repoRoot } from "../toolchain/env";

/** A sandbox host, its git origin and a GitHub stand-in, with this program's stack pointed at them. */
export interface SandboxEnvironment {
    host: SandboxHost;
    standin: GitHubStandin;
    publisher: SitePublisher;
    stack: Stack;
    stateDir: string;
    repository: string;
    siteUrl: string;
    /** The stack's GitHub token (webhooks, environment), as the stand-in knows it. */
    githubToken: string;
    /** The deployments token, when the environment reports deploys to GitHub. */
    deploymentsToken?: string;
    /** Destroys the stack and removes everything the environment made. */
    close(): Promise<void>;
}

export interface SandboxEnvironmentOptions {
    /**
     * The stand-in listens on the host's gateway address instead of loopback, so that the host
     * reaches it too (the deploy reporter calls GitHub from there).
     */
    githubReachableFromHost?: boolean;
    /** Sets githubDeploymentsToken (secret) in the stack and gives the stand-in that token. */
    deploymentsToken?: boolean;
}

export async function startSandboxEnvironment(name: string, config: Record<string, string> = {}, options: SandboxEnvironmentOptions = {}): Promise<SandboxEnvironment> {
    const repository = "selfpages/site";
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `selfpages-${name}-`));
    const githubToken = `ghp_${crypto.randomBytes(18).toString("hex")}`;
    const deploymentsToken = options.deploymentsToken ? `github_pat_${crypto.randomBytes(30).toString("hex")}` : undefined;
    const host = hostUp(name);
    const standinHost = options.githubReachableFromHost || options.deploymentsToken ? host.gatewayAddress : "127.0.0.1";
    const standin = await startGitHubStandin({ host: standinHost, port: 0, token: githubToken, deploymentsToken, repositories: [repository] });
    const publisher = new SitePublisher(host.originPath);
    const stack = await sandboxStack({ stackName: name, host, stateDir, githubApiUrl: standin.apiUrl, githubToken, repository, config });
    if (deploymentsToken) await stack.setConfig("selfpages:githubDeploymentsToken", { value: deploymentsToken, secret: true });
    return {
        host,
        standin,
        publisher,
        stack,
        stateDir,
        repository,
        siteUrl: `http://${host.address}`,
        githubToken,
        deploymentsToken,
        async close() {
            try {
                await stack.destroy().catch(() => undefined);
                await stack.workspace.removeStack(name).catch(() => undefined);
            } finally {
                fs.rmSync(path.join(repoRoot, `Pulumi.${name}.yaml`), { force: true });
                await standin.close();
                publisher.remove();
                hostDown(name);
                fs.rmSync(stateDir, { recursive: true, force: true });
            }
        },
    };
}
