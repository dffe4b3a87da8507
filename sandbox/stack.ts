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
    /** The sandbox's hosts: the stack serves the first (hostSettings), or every one with `fleet`. */
    hosts: SandboxHost[];
    /** With several hosts: the fleet form, a `servers` entry per host (fleetSettings) instead of the host* keys. */
    fleet?: boolean;
    /** The one-site form's names (default: tls.serverNames, else the first host's address). */
    serverNames?: string[];
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

/** The settings that point a stack at one sandbox host (the one-server form). */
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

/** The one-server form's keys, which a fleet's `servers` entries replace (hostUser stays shared). */
const oneServerKeys = ["hostAddress", "hostPort", "hostKey", "hostPrivateKey"];

/** What product config requires of a server's name (lib/config.ts, serverSchema). */
const serverName = /^[a-z][a-z0-9-]{0,23}$/;

/**
 * The fleet form: one `servers` entry per host, named after it, at the address the other hosts
 * reach it at too (its LAN, lan.sh). Each entry's privateKey is set apart, as a secret (fleetKeys).
 */
function fleetSettings(hosts: SandboxHost[]): Array<{ name: string; address: string; hostKey: string; port: number }> {
    const bad = hosts.find((host) => !serverName.test(host.name));
    if (bad) throw new Error(`sandbox host name "${bad.name}" is no server name (${String(serverName)}): name a fleet sandbox with a letter first`);
    return hosts.map((host) => ({ name: host.name, address: host.address, hostKey: host.hostKey, port: host.port }));
}

/** Each server's own SSH key, a secret in its `servers` entry (path form, as a user sets it). */
async function fleetKeys(stack: Stack, hosts: SandboxHost[]): Promise<void> {
    for (const [i, host] of hosts.entries()) await stack.setConfig(`selfpages:servers[${i}].privateKey`, { value: privateKeyOf(host), secret: true }, true);
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

/**
 * A file backend in `dir`, as the README's login line has it: `metadata=skip` tells its storage
 * layer (gocloud.dev's fileblob) not to write a `.attrs` file with an MD5 of the content beside
 * every file it writes. Pulumi reads neither, and the backend rewrites the whole state (and its
 * `.bak` copy) after every step: the MD5 of each was about a tenth of the CLI's CPU in a
 * five-server `up` (see the README's fleet section).
 */
export const fileBackendUrl = (dir: string) => `file://${dir}?metadata=skip`;

/** The environment the Pulumi CLI runs with for a sandbox stack. */
export function sandboxEnv(stateDir: string): Record<string, string> {
    const backend = path.join(stateDir, "backend");
    fs.mkdirSync(backend, { recursive: true });
    return { ...toolchainEnv(path.join(cacheDir, "pulumi-home")), PULUMI_BACKEND_URL: fileBackendUrl(backend), PULUMI_CONFIG_PASSPHRASE: passphrase(stateDir) };
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
        // The server name is the host's address (a fleet's: a name only the tests resolve), which no
        // certificate names: plain HTTP unless the sandbox runs its ACME server and names (`tls`).
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
    const fleet = options.fleet === true && options.hosts.length > 1;
    if (fleet) for (const key of oneServerKeys) delete config[`selfpages:${key}`];
    await stack.setAllConfig(config);
    // Lists of objects: in the stack's file, as a user writes them. The other server form's keys
    // go (a kept stack, `npm run sandbox` again, may have had them): the product accepts one form.
    const file = path.join(repoRoot, `Pulumi.${options.stackName}.yaml`);
    const doc = parseDocument(fs.readFileSync(file, "utf8"));
    if (fleet || options.sites || doc.hasIn(["config", "selfpages:servers"])) {
        if (fleet) doc.setIn(["config", "selfpages:servers"], fleetSettings(options.hosts));
        else doc.deleteIn(["config", "selfpages:servers"]);
        if (fleet) for (const key of oneServerKeys) doc.deleteIn(["config", `selfpages:${key}`]);
        if (options.sites) doc.setIn(["config", "selfpages:sites"], options.sites);
        fs.writeFileSync(file, doc.toString());
    }
    if (fleet) await fleetKeys(stack, options.hosts);
    if (options.sites) return stack;
    // A list goes in as a YAML list (Pulumi.yaml types it as an array), hence the path form.
    for (const [i, name] of (options.serverNames ?? tls?.serverNames ?? [host.address]).entries()) await stack.setConfig(`selfpages:siteServerNames[${i}]`, { value: name }, true);
    return stack;
}
