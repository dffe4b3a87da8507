import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import type { DeliveryTls } from "../github/deliveries";
import { startGitHubStandin, type GitHubStandin } from "../github/server";
import { hostDown, hostUp, type SandboxHost } from "../hostInstance";
import { SitePublisher } from "../origin";
import { sandboxStack } from "../stack";
import { repoRoot } from "../../toolchain/env";
import { startSandboxAcme, type SandboxAcme } from "./pebble";

/** A sandbox host with the stack's TLS on: pebble as the ACME server, names in challtestsrv's DNS. */
export interface HttpsSandbox {
    host: SandboxHost;
    acme: SandboxAcme;
    standin: GitHubStandin;
    publisher: SitePublisher;
    stack: Stack;
    names: string[];
    repository: string;
    /** What the stand-in verifies https hooks against; update `ca` when pebble restarts. */
    deliveryTls: DeliveryTls;
    close(): Promise<void>;
}

export const sandboxServerNames = ["site.selfpages.test", "www.site.selfpages.test"];

export async function startHttpsSandbox(name: string): Promise<HttpsSandbox> {
    const repository = "selfpages/site";
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `selfpages-${name}-`));
    const githubToken = `ghp_${crypto.randomBytes(18).toString("hex")}`;
    const host = hostUp(name);
    const acme = await startSandboxAcme({ gatewayAddress: host.gatewayAddress, hostAddress: host.address, workDir: path.join(stateDir, "acme") });
    const deliveryTls: DeliveryTls = { ca: await acme.rootCa(), hosts: Object.fromEntries(sandboxServerNames.map((n) => [n, host.address])) };
    const standin = await startGitHubStandin({ host: "127.0.0.1", port: 0, token: githubToken, repositories: [repository], deliveryTls });
    const publisher = new SitePublisher(host.originPath);
    const stack = await sandboxStack({
        stackName: name,
        host,
        stateDir,
        githubApiUrl: standin.apiUrl,
        githubToken,
        repository,
        config: { tls: "acme", tlsAcmeDirectoryUrl: acme.directoryUrl, tlsCaBundle: acme.directoryCa, tlsContactEmail: "webmaster@example.com" },
    });
    for (const [i, n] of sandboxServerNames.entries()) await stack.setConfig(`selfpages:siteServerNames[${i}]`, { value: n }, true);
    (stack.workspace as LocalWorkspace).envVars.SELFPAGES_DNS_SERVER = `${host.gatewayAddress}:8053`;
    return {
        host,
        acme,
        standin,
        publisher,
        stack,
        names: sandboxServerNames,
        repository,
        deliveryTls,
        async close() {
            try {
                await stack.destroy().catch(() => undefined);
                await stack.workspace.removeStack(name).catch(() => undefined);
            } finally {
                fs.rmSync(path.join(repoRoot, `Pulumi.${name}.yaml`), { force: true });
                await standin.close();
                await acme.close();
                publisher.remove();
                hostDown(name);
                fs.rmSync(stateDir, { recursive: true, force: true });
            }
        },
    };
}
