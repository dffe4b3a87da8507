import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { LocalWorkspace, type ConfigMap, type Stack } from "@pulumi/pulumi/automation";
import type { SandboxHost } from "./hostInstance";
import { privateKeyOf } from "./hostInstance";
import { cacheDir, repoRoot, toolchainEnv } from "../toolchain/env";

export interface SandboxStackOptions {
    stackName: string;
    /** The sandbox's hosts; a stack serves one server today, the first (see hostSettings). */
    hosts: SandboxHost[];
    /** Directory for the file backend and the stack's passphrase (kept outside the repo). */
    stateDir: string;
    githubApiUrl: string;
    githubToken: string;
    repository: string;
    /** Extra `selfpages:` settings, e.g. a short sync schedule for tests. */
    config?: Record<string, string>;
    /** TLS on: the ACME server's directory and CA, the names it certifies and the DNS that resolves them. */
    tls?: { directoryUrl: string; directoryCa: string; serverNames: string[]; dnsServer: string };
    deploymentsToken?: string;
    /** Many sites: the `sites` list, written into the stack's file as a user would (the one-site keys left unset). */
    sites?: Array<{ name: string; repository: string; cloneUrl: string; folder?: string; serverNames?: string[]; parent?: string; path?: string }>;
}

/** The settings that point a stack at one sandbox host (a fleet's config will hold one set per host). */
function hostSettings(host: SandboxHost): ConfigMap {
    return {
        "selfpages:hostAddress": { value: host.address },
        "selfpages:hostPort": { value: String(host.port) },
        "selfpages:hostUser": { value: host.user },
        "selfpages:hostKey": { value: host.hostKey },
        "selfpages:hostPrivateKey": { value: privateKeyOf(host), secret: true },
        "selfpages:siteCloneUrl": { value: host.originUrl },
    };
}

/** Reads or creates the passphrase that encrypts the sandbox stack's secrets (0600, not in the repo). */
function passphrase(stateDir: string): string {
    const file = path.join(stateDir, "passphrase");
    if (!fs.existsSync(file)) {
        fs.mkdirSync(stateDir, { recursive: true });
        fs.writeFileSync(file, crypto.randomBytes(24).toString("base64url"), { mode: 0o600 });
    }
    return fs.readFileSync(file, "utf8");
}

/** The environment the Pulumi CLI runs with for a sandbox stack. */
export function sandboxEnv(stateDir: string): Record<string, string> {
    const backend = path.join(stateDir, "backend");
    fs.mkdirSync(backend, { recursive: true });
    return { ...toolchainEnv(path.join(cacheDir, "pulumi-home")), PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: passphrase(stateDir) };
}

/**
 * The program in this repository as a local stack with a file backend, configured for a sandbox
 * host. The backend goes through envVars: projectSettings would overwrite Pulumi.yaml.
 */
export async function sandboxStack(options: SandboxStackOptions): Promise<Stack> {
    const envVars = sandboxEnv(options.stateDir);
    // The language host and plugins are found through PATH; the Automation API resolves `pulumi` there too.
    process.env.PATH = envVars.PATH;
    const stack = await LocalWorkspace.createOrSelectStack({ stackName: options.stackName, workDir: repoRoot }, { envVars });
    const [host] = options.hosts;
    const config: ConfigMap = {
        ...hostSettings(host),
        "selfpages:os": { value: "debian" },
        "selfpages:siteRepository": { value: options.repository },
        "selfpages:githubApiUrl": { value: options.githubApiUrl },
        "selfpages:githubToken": { value: options.githubToken, secret: true },
        // The server name is the host's address, which no certificate names: plain HTTP unless the
        // sandbox runs its ACME server and names (buildSandbox's `tls`).
        "selfpages:tls": { value: "off" },
    };
    const { tls } = options;
    if (tls) {
        Object.assign(config, {
            "selfpages:tls": { value: "acme" },
            "selfpages:tlsAcmeDirectoryUrl": { value: tls.directoryUrl },
            "selfpages:tlsCaBundle": { value: tls.directoryCa },
            "selfpages:tlsContactEmail": { value: "webmaster@example.com" },
        });
        // The preflight resolves the names as pebble does: through pebble-challtestsrv.
        stack.workspace.envVars.SELFPAGES_DNS_SERVER = tls.dnsServer;
    }
    if (options.deploymentsToken) config["selfpages:githubDeploymentsToken"] = { value: options.deploymentsToken, secret: true };
    for (const [key, value] of Object.entries(options.config ?? {})) config[`selfpages:${key}`] = { value };
    if (options.sites) {
        delete config["selfpages:siteRepository"];
        delete config["selfpages:siteCloneUrl"];
    }
    await stack.setAllConfig(config);
    if (options.sites) {
        // A list of objects: in the stack's file, as a user writes it.
        const file = path.join(repoRoot, `Pulumi.${options.stackName}.yaml`);
        const doc = parseDocument(fs.readFileSync(file, "utf8"));
        doc.setIn(["config", "selfpages:sites"], options.sites);
        fs.writeFileSync(file, doc.toString());
        return stack;
    }
    // A list goes in as a YAML list (Pulumi.yaml types it as an array), hence the path form.
    for (const [i, name] of (tls?.serverNames ?? [host.address]).entries()) await stack.setConfig(`selfpages:siteServerNames[${i}]`, { value: name }, true);
    return stack;
}
