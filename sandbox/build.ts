/**
 * The one way to assemble a sandbox, for `npm run sandbox`, the bench, the reliability drills and
 * the end-to-end tests: N hosts (each its own network namespace and /24, several on one LAN), a
 * GitHub stand-in serving the given repositories, pebble when TLS is on, and this program's stack
 * pointed at the first host, or at every host as a fleet.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { startAcmeDaemon, type AcmeDaemon } from "./acme/daemon";
import { answerNamesWith, startSandboxAcme, stopSandboxAcmeDaemons, type SandboxAcme } from "./acme/pebble";
import { daemonToken, startStandinDaemon, stopStandinDaemon, type StandinDaemon } from "./github/daemon";
import type { DeliveryTls } from "./github/deliveries";
import { startGitHubStandin, type GitHubStandin } from "./github/server";
import { hostDown, hostJoinLan, hostUp, type SandboxHost } from "./hostInstance";
import { SitePublisher } from "./origin";
import { sandboxStack } from "./stack";
import { newGitHubToken } from "./tokens";
import { repoRoot } from "../toolchain/env";

/** The site's repository when a sandbox is given none. */
export const defaultRepository = "selfpages/site";
/** The names pebble certifies when TLS is on; challtestsrv answers them with the first host (a fleet's: every host, a peer first). */
export const tlsServerNames = ["site.selfpages.test", "www.site.selfpages.test"];

/** A site of a many-sites sandbox: its repository gets a git origin of its own on the first host's gateway. */
export interface SandboxSite {
    name: string;
    /** Default: selfpages/<name>. */
    repository?: string;
    folder?: string;
    /** Default for a site without parent: <name>.selfpages.test (the first site: the names a one-site sandbox has). */
    serverNames?: string[];
    parent?: string;
    path?: string;
}

export interface SandboxOptions {
    /** The stack's name and the first host's (1-12 of [a-z0-9-]); the others are NAME-2, NAME-3, ... */
    name: string;
    /**
     * How many hosts (default 1). Several share a LAN (sandbox/host/lan.sh): each reaches the others
     * at their addresses. The stack serves the first, or all with `fleet`.
     */
    hosts?: number;
    /**
     * With several hosts: the stack in the fleet form, a `servers` entry per host (sandboxStack), and
     * the site's names tlsServerNames even without tls (a fleet refuses a server's address as a name).
     */
    fleet?: boolean;
    /** "owner/name" of each repository the stand-in serves (default one); the stack's site is the first. */
    repositories?: string[];
    /** HTTPS: pebble and its DNS on the first host's gateway, the stack's tls set to acme for tlsServerNames. */
    tls?: boolean;
    /** A deployments token in the stack and the stand-in, and the stand-in where the host's reporter reaches it. */
    deployments?: boolean;
    /** The stand-in on the first host's gateway instead of loopback, so that the hosts reach it too. */
    standinReachableFromHosts?: boolean;
    /** Many sites: the stack's `sites` list instead of the one-site keys (repositories are theirs). */
    sites?: SandboxSite[];
    /** Extra `selfpages:` settings of the stack. */
    config?: Record<string, string>;
    /** false: no stack (a test that makes its own as a user would). */
    stack?: boolean;
    /** Default: a new temporary directory, removed by close(). */
    stateDir?: string;
    /**
     * The stand-in and pebble run detached and outlive this process, found again by the next build
     * with the same stateDir; removeSandbox() ends them (`npm run sandbox`).
     */
    daemons?: boolean;
}

export interface Sandbox<Standin extends { apiUrl: string } = GitHubStandin, Acme = SandboxAcme> {
    name: string;
    hosts: SandboxHost[];
    /** The first host: the one the stack serves. */
    host: SandboxHost;
    standin: Standin;
    /** pebble and its DNS (an error when built without `tls`). */
    acme: Acme;
    /** What the stand-in verifies https hooks against (update `ca` when pebble restarts). */
    deliveryTls: DeliveryTls;
    /** A working clone of the first host's git origin, made when first used. */
    publisher: SitePublisher;
    /** A working clone of a repository's git origin (many sites), made when first used. */
    publisherOf(repository: string): SitePublisher;
    /** Where a repository's origin lives on this machine (many sites; the first is the host's). */
    originPathOf(repository: string): string;
    /** The sites as the stack has them (many sites), server names filled in. */
    sites: Array<SandboxSite & { repository: string }>;
    /** This program's stack for the first host, or every host with `fleet` (an error when built with `stack: false`). */
    stack: Stack;
    stateDir: string;
    /** The stack's site, the first of `repositories`. */
    repository: string;
    repositories: string[];
    serverNames: string[];
    siteUrl: string;
    /** The stack's GitHub token (webhooks, environment), as the stand-in knows it. */
    githubToken: string;
    deploymentsToken?: string;
    /** Destroys the stack and removes everything the build made (daemons: see removeSandbox). */
    close(): Promise<void>;
}

export type DaemonSandbox = Sandbox<StandinDaemon, AcmeDaemon>;

const siteRepository = (site: SandboxSite) => site.repository ?? `selfpages/${site.name}`;
const hostNames = (name: string, count: number) => Array.from({ length: count }, (_, i) => (i === 0 ? name : `${name}-${i + 1}`));
const hostsFile = (stateDir: string) => path.join(stateDir, "hosts.json");

export function buildSandbox(options: SandboxOptions & { daemons: true }): Promise<DaemonSandbox>;
export function buildSandbox(options: SandboxOptions & { daemons?: false }): Promise<Sandbox>;
export async function buildSandbox(options: SandboxOptions): Promise<Sandbox<GitHubStandin | StandinDaemon, SandboxAcme | AcmeDaemon>> {
    const { name } = options;
    const names = hostNames(name, options.hosts ?? 1);
    const tooLong = names.find((n) => !/^[a-z0-9-]{1,12}$/.test(n));
    if (tooLong) throw new Error(`sandbox host name "${tooLong}" must be 1-12 of [a-z0-9-] (name "${name}" with ${names.length} hosts)`);
    const repositories = options.sites ? [...new Set(options.sites.map(siteRepository))] : (options.repositories ?? [defaultRepository]);
    const stateDir = options.stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `selfpages-${name}-`));
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    // What close() (or a failed build) undoes, last made first undone.
    const undo: Array<() => unknown> = [];
    const close = async () => {
        for (const step of undo.reverse()) {
            try {
                await step();
            } catch (error) {
                console.error(`sandbox ${name}: cleanup step failed: ${String(error)}`);
            }
        }
        undo.length = 0;
    };
    if (!options.stateDir) undo.push(() => fs.rmSync(stateDir, { recursive: true, force: true }));
    try {
        fs.writeFileSync(hostsFile(stateDir), JSON.stringify(names));
        const hosts: SandboxHost[] = [];
        for (const hostName of names) {
            if (!options.daemons) undo.push(() => hostDown(hostName));
            hosts.push(hostUp(hostName));
            if (names.length > 1) hostJoinLan(hostName, name);
        }
        const fleet = options.fleet === true && hosts.length > 1;
        const [host] = hosts;

        const acmeDir = path.join(stateDir, "acme");
        const acmeAt = { workDir: acmeDir, gatewayAddress: host.gatewayAddress, hostAddress: host.address };
        let acme: SandboxAcme | AcmeDaemon | undefined;
        const deliveryTls: DeliveryTls = {};
        if (options.tls && options.daemons) acme = await startAcmeDaemon(acmeAt);
        else if (options.tls) {
            const started = await startSandboxAcme(acmeAt);
            undo.push(() => started.close());
            deliveryTls.ca = await started.rootCa();
            acme = started;
        }
        const serverNames = options.tls || fleet ? tlsServerNames : [host.address];
        // Each repository's origin beside the host's (its git daemon serves the whole directory).
        const originDir = path.dirname(host.originPath);
        const originPathOf = (repository: string) => (repository === repositories[0] ? host.originPath : path.join(originDir, `${repository.replace("/", "-")}.git`));
        const originUrlOf = (repository: string) => host.originUrl.replace(/[^/]+\.git$/, path.basename(originPathOf(repository)));
        for (const repository of repositories.slice(1)) {
            if (options.sites) execFileSync("bash", [path.join(repoRoot, "sandbox", "host", "origin.sh"), originPathOf(repository)], { stdio: ["ignore", "ignore", "inherit"] });
        }
        const sites = (options.sites ?? []).map((site, i) => ({
            ...site,
            repository: siteRepository(site),
            ...(site.parent === undefined ? { serverNames: site.serverNames ?? (i === 0 ? serverNames : [`${site.name}.selfpages.test`]) } : {}),
        }));
        // The names exist nowhere but in pebble-challtestsrv's DNS: the stand-in delivers to the host's address.
        const resolvedNames = [...(options.tls ? serverNames : []), ...sites.flatMap((s) => s.serverNames ?? [])].filter((n) => n !== host.address);
        // A fleet with TLS: every name points at every server, a peer first (the one pebble
        // validates at), so that the challenges go through a peer's hand-on to the lead.
        if (fleet && acme && resolvedNames.length > 0) await answerNamesWith(host.gatewayAddress, resolvedNames, [...hosts.slice(1), host].map((h) => h.address));
        if (resolvedNames.length > 0) deliveryTls.hosts = Object.fromEntries(resolvedNames.map((n) => [n, host.address]));

        const githubToken = (options.daemons && daemonToken(stateDir, "token")) || newGitHubToken();
        const deploymentsToken = options.deployments ? (options.daemons && daemonToken(stateDir, "deploymentsToken")) || newGitHubToken("fine-grained") : undefined;
        const standinHost = options.standinReachableFromHosts || options.deployments ? host.gatewayAddress : "127.0.0.1";
        let standin: GitHubStandin | StandinDaemon;
        if (options.daemons) {
            const rootFile = [...(acme && "rootFile" in acme ? ["--delivery-ca-file", acme.rootFile] : []), ...resolvedNames.map((n) => `--delivery-resolve=${n}=${host.address}`)];
            standin = await startStandinDaemon({ stateDir, host: standinHost, token: githubToken, deploymentsToken, repositories, args: rootFile });
        } else {
            const started = await startGitHubStandin({ host: standinHost, port: 0, token: githubToken, deploymentsToken, repositories, deliveryTls });
            undo.push(() => started.close());
            standin = started;
        }

        const publishers = new Map<string, SitePublisher>();
        undo.push(() => [...publishers.values()].forEach((p) => p.remove()));
        const publisherOf = (repository: string) => {
            let publisher = publishers.get(repository);
            if (!publisher) publishers.set(repository, (publisher = new SitePublisher(originPathOf(repository))));
            return publisher;
        };

        let stack: Stack | undefined;
        if (options.stack !== false) {
            undo.push(async () => {
                await stack?.destroy().catch(() => undefined);
                await stack?.workspace.removeStack(name).catch(() => undefined);
                fs.rmSync(path.join(repoRoot, `Pulumi.${name}.yaml`), { force: true });
            });
            stack = await sandboxStack({
                stackName: name,
                hosts,
                fleet,
                serverNames,
                stateDir,
                githubApiUrl: standin.apiUrl,
                githubToken,
                repository: repositories[0],
                config: options.config,
                deploymentsToken,
                tls: acme && { directoryUrl: acme.directoryUrl, directoryCa: acme.directoryCa, serverNames, dnsServer: `${host.gatewayAddress}:8053` },
                ...(options.sites ? { sites: sites.map((site) => ({ ...site, cloneUrl: originUrlOf(site.repository) })) } : {}),
            });
        }
        return {
            name,
            hosts,
            host,
            standin,
            get acme() {
                if (!acme) throw new Error(`sandbox ${name} was built without tls`);
                return acme;
            },
            deliveryTls,
            get publisher() {
                return publisherOf(repositories[0]);
            },
            publisherOf,
            originPathOf,
            sites,
            get stack() {
                if (!stack) throw new Error(`sandbox ${name} was built without a stack`);
                return stack;
            },
            stateDir,
            repository: repositories[0],
            repositories,
            serverNames,
            siteUrl: `${options.tls ? "https" : "http"}://${serverNames[0]}`,
            githubToken,
            deploymentsToken,
            close,
        };
    } catch (error) {
        await close();
        throw error;
    }
}

/** Removes what a `daemons` build left running or on disk, from another process (`npm run sandbox -- --down`). */
export function removeSandbox(name: string, stateDir: string): void {
    stopStandinDaemon(stateDir);
    stopSandboxAcmeDaemons(path.join(stateDir, "acme"));
    const names = fs.existsSync(hostsFile(stateDir)) ? (JSON.parse(fs.readFileSync(hostsFile(stateDir), "utf8")) as string[]) : [name];
    for (const hostName of names) hostDown(hostName);
    fs.rmSync(path.join(repoRoot, `Pulumi.${name}.yaml`), { force: true });
    fs.rmSync(stateDir, { recursive: true, force: true });
}
