import { z } from "zod";
import { hostLayout, siteLayout, type HostLayout, type SiteLayout } from "./layout";
import { platforms, type Platform } from "./platform";

/**
 * The stack's configuration, one flat key per setting so that every key can be typed and
 * described in Pulumi.yaml and set with a plain `pulumi config set <key> <value>`.
 * This schema is the single source of truth: Pulumi.yaml and the README's config reference are
 * checked against it by test/lib/configReference.test.ts.
 */

const hostname = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const ipv4 = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const ipv6 = /^[0-9A-Fa-f:]+(%[A-Za-z0-9]+)?$/;
const isHost = (value: string) => ipv4.test(value) || (value.includes(":") && ipv6.test(value)) || (hostname.test(value) && !/^[\d.]+$/.test(value));

const cronRanges: Array<[number, number]> = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
function isCronField(field: string, [min, max]: [number, number]): boolean {
    return field.split(",").every((part) => {
        const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
        if (!match) return false;
        const [, , from, to, step] = match;
        const inRange = (n: string | undefined) => n === undefined || (Number(n) >= min && Number(n) <= max);
        return inRange(from) && inRange(to) && (to === undefined || Number(to) >= Number(from)) && (step === undefined || Number(step) >= 1);
    });
}
function isCronSchedule(value: string): boolean {
    const fields = value.trim().split(/\s+/);
    return fields.length === 5 && fields.every((field, i) => isCronField(field, cronRanges[i]));
}

const absolutePath = z
    .string()
    .regex(/^\/[A-Za-z0-9._/-]*$/, "must be an absolute path made of letters, digits, '.', '_', '-' and '/'")
    .refine((p) => !p.split("/").includes(".."), "must not contain '..'")
    .refine((p) => p.replace(/\/+$/, "") !== "", "must not be the root directory");

const httpUrl = z.string().refine((value) => {
    try {
        const url = new URL(value);
        return (url.protocol === "https:" || url.protocol === "http:") && url.username === "" && url.password === "";
    } catch {
        return false;
    }
}, "must be an http:// or https:// URL without credentials");

export const letsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory";
export const letsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory";

const port = (min: number) => z.number().int(`must be an integer`).min(min, `must be at least ${min}`).max(65535, "must be at most 65535");

const repository = z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/, "must be a GitHub repository as owner/name");
const branch = z
    .string()
    .regex(/^(?!\/|.*([/.]\.|\/\/|@\{|\\|\.lock$|\/$))[^\x00-\x20~^:?*[\x7f]+$/, "must be a valid git branch name");
const cloneUrl = z.string().regex(/^(https?|git|ssh|file):\/\/\S+$/, "must be an https://, http://, git://, ssh:// or file:// URL");
const serverName = z.string().refine((n) => n === "_" || isHost(n) || /^\*\.[A-Za-z0-9.-]+$/.test(n), "must be a hostname, an IP address or '_'");
const keepReleases = z.number().int("must be an integer").min(2, "must be at least 2").max(20, "must be at most 20");
const secretVersion = z.number().int("must be an integer").min(1, "must be at least 1");

/** One entry of `sites`: a repository's branch, served under its own names or under another site's. */
export const siteSchema = z
    .object({
        name: z
            .string()
            .regex(/^[a-z][a-z0-9-]{0,30}$/, "must be 1 to 31 lowercase letters, digits or '-', starting with a letter")
            .describe("Stable name: the site's resources and its files on the server are named after it; renaming a site replaces it."),
        repository: repository.describe("GitHub repository (owner/name) that publishes the site."),
        branch: branch.default("gh-pages").describe("Branch holding the built site."),
        folder: z
            .string()
            .regex(/^\/([A-Za-z0-9._-]+)?$/, "must be '/' or one folder such as '/docs'")
            .refine((f) => f !== "/." && f !== "/..", "must be '/' or one folder such as '/docs'")
            .default("/")
            .describe("The part of the branch that is served: '/' (all of it) or one folder such as '/docs'."),
        serverNames: z.array(serverName).min(1, "must list at least one server name").optional().describe("Names the site answers to; the first is canonical and the others answer 301 to it. Not with `path`."),
        parent: z.string().optional().describe("With `path`: the site under whose canonical name this one is served."),
        path: z
            .string()
            .regex(/^[A-Za-z0-9._-]+$/, "must be one URL path segment such as 'docs'")
            .refine((p) => p !== "." && p !== "..", "must be one URL path segment such as 'docs'")
            .optional()
            .describe("A project site: served at https://<parent's canonical name>/<path>/."),
        cloneUrl: cloneUrl.optional().describe("URL the server clones the site from (default: https://github.com/<repository>.git)."),
        keepReleases: keepReleases.default(3).describe("How many releases to keep on the server (the current one included)."),
        pin: z
            .string()
            .regex(/^[0-9a-f]{40}$/, "must be a full commit id (40 lowercase hex digits)")
            .optional()
            .describe("A commit served instead of the branch's head (rollback); pushes are logged and not deployed until it is cleared."),
        secretVersion: secretVersion.default(1).describe("Bump it by one to rotate this site's webhook secret (as webhookSecretVersion does for the one-site form)."),
    })
    .strict();

const privateKey = z
    .string()
    .refine((k) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(k) && /-----END [A-Z ]*PRIVATE KEY-----/.test(k), "must be a PEM or OpenSSH private key");
const hostKey = z
    .string()
    .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}( .*)?$/, "must be one public host key line such as 'ssh-ed25519 AAAA...' (see ssh-keyscan)");
const osFamily = z.enum(["alpine", "debian"]);

/** GitHub delivers a push to at most 20 hooks per event per repository: one per server here. */
export const maxServers = 20;

/** One entry of `servers`: a host provisioned over SSH that serves every site. */
export const serverSchema = z
    .object({
        name: z
            .string()
            .regex(/^[a-z][a-z0-9-]{0,23}$/, "must be 1 to 24 lowercase letters, digits or '-', starting with a letter")
            .describe("Stable name: the server's resources are named after it; renaming a server replaces it."),
        address: z.string().refine(isHost, "must be a hostname or an IP address").describe("Address (hostname or IP) it is provisioned at over SSH, and the one GitHub delivers its hooks to (http://<address><receiverPath>/<site>)."),
        hostKey: hostKey.describe("Its SSH host key, pinned."),
        port: port(1).optional().describe("SSH port (default: hostPort)."),
        os: osFamily.optional().describe("alpine or debian (default: os)."),
        privateKey: privateKey
            .optional()
            .describe("Its own SSH private key (default: hostPrivateKey); a secret: `pulumi config set --secret --path 'servers[0].privateKey' ...`."),
    })
    .strict();

export const configSchema = z
    .object({
        hostAddress: z
            .string()
            .refine(isHost, "must be a hostname or an IP address")
            .optional()
            .describe("One-server form: address (hostname or IP) of the server to provision over SSH (required unless `servers` is set)."),
        hostPort: port(1).default(22).describe("SSH port of the server (with `servers`: of every server that sets none)."),
        hostUser: z
            .string()
            .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a Unix user name")
            .default("root")
            .describe("SSH user; must be root: the host check refuses any other."),
        hostPrivateKey: privateKey
            .optional()
            .describe("SSH private key (secret: set it with --secret); with `servers`, of every server that sets none."),
        hostKey: hostKey
            .optional()
            .describe("One-server form: the server's SSH host key, pinned: connections to a host presenting another key are refused (required unless `servers` is set)."),
        os: osFamily.default("alpine").describe("OS family of the server: alpine (default) or debian, both with OpenRC (with `servers`: of every server that sets none)."),
        servers: z
            .array(serverSchema)
            .max(maxServers, `must list at most ${maxServers} servers: GitHub delivers a push to at most 20 hooks per repository, one per server`)
            .optional()
            .describe("The servers, a list (see the README's \"A fleet\"); every server serves every site. Unset or empty, hostAddress and hostKey describe the one server, named selfpages."),
        sites: z
            .array(siteSchema)
            .optional()
            .describe("The sites this server serves, a list (see the README's \"Many sites\"); unset or empty, the site* keys below describe the one site, named selfpages."),
        siteRepository: repository.optional().describe("One-site form: GitHub repository (owner/name) that publishes the site (required unless `sites` is set)."),
        siteBranch: branch.default("gh-pages").describe("One-site form: branch holding the built site."),
        siteCloneUrl: cloneUrl.optional().describe("One-site form: URL the server clones the site from (default: https://github.com/<siteRepository>.git)."),
        siteServerNames: z
            .array(serverName)
            .min(1, "must list at least one server name")
            .optional()
            .describe("One-site form: the names the site answers to (a list; required unless `sites` is set); the first is canonical and the others answer 301 to it."),
        siteRoot: absolutePath.default("/srv/selfpages").describe("Directory on the server holding every site's clone, releases and `current` link (sites/<name>/)."),
        siteKeepReleases: keepReleases.default(3).describe("One-site form: how many releases to keep on the server (the current one included)."),
        receiverPort: port(1024).default(9000).describe("Loopback port of the webhook receiver (nginx proxies to it)."),
        receiverPath: z
            .string()
            .regex(/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, "must be a URL path such as /webhook")
            .default("/webhook")
            .describe("Public URL path of the webhook on the site's server."),
        receiverPublicUrl: httpUrl.optional().describe("One-site form: URL GitHub delivers to (default: the site's URL followed by receiverPath without its slash, http:// when tls is off)."),
        syncSchedule: z
            .string()
            .refine(isCronSchedule, "must be a 5-field cron schedule such as '*/15 * * * *'")
            .default("*/15 * * * *")
            .describe("Cron schedule of the fallback sync."),
        githubToken: z.string().min(1, "must not be empty").describe("GitHub token allowed to manage the repository's webhooks (secret: set it with --secret)."),
        githubApiUrl: httpUrl.default("https://api.github.com").describe("GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3)."),
        githubDeploymentsToken: z
            .string()
            .regex(/^[A-Za-z0-9_]{20,255}$/, "must be a GitHub token (20 to 255 letters, digits and '_')")
            .optional()
            .describe("GitHub token allowed only to write deployments (fine-grained, \"Deployments: read and write\"), kept on the server: with it, each deploy is reported to GitHub as a deployment with its status (secret: set it with --secret). Unset: nothing is sent."),
        githubEnvironment: z
            .string()
            .regex(/^[A-Za-z0-9._-]{1,255}$/, "must be 1 to 255 letters, digits, '.', '_' or '-'")
            .default("selfpages")
            .describe("GitHub environment the deployments are reported in; `pulumi up` creates it (with githubToken) when githubDeploymentsToken is set."),
        webhookSecretVersion: secretVersion.default(1).describe("One-site form: change it (bump it by one) to rotate the webhook secret: during that `up` the receiver accepts the new and the old secret until GitHub has switched, then only the new one."),
        tls: z
            .enum(["acme", "off"], "must be acme or off")
            .default("acme")
            .describe("HTTPS: acme (default) gets a certificate for every server name from the ACME directory, renews it, and redirects http to https; off serves plain HTTP only (a site behind another TLS terminator)."),
        tlsContactEmail: z.string().regex(/^[^\s@<>"',;:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/, "must be an email address").optional().describe("Contact email of the ACME account (expiry notices); optional."),
        tlsAcmeDirectoryUrl: z
            .string()
            .refine((value) => {
                try {
                    const url = new URL(value);
                    return url.protocol === "https:" && url.username === "" && url.password === "";
                } catch {
                    return false;
                }
            }, "must be an https:// URL without credentials")
            .default(letsEncryptProduction)
            .describe(`ACME directory the certificate comes from: Let's Encrypt production by default; its staging directory (${letsEncryptStaging}) issues untrusted certificates with high rate limits, for trials.`),
        tlsHstsMaxAge: z
            .number()
            .int("must be an integer")
            .min(0, "must be at least 0")
            .max(63072000, "must be at most 63072000 (two years)")
            .default(0)
            .describe("Strict-Transport-Security max-age in seconds; 0 (default) sends no HSTS header. Browsers then refuse plain HTTP for that long: set it once HTTPS works (31536000 is one year)."),
        tlsCaBundle: z
            .string()
            .refine((pem) => /^(\s*-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----\s*)+$/.test(pem), "must be one or more PEM certificates")
            .optional()
            .describe("CA certificates (PEM) the host trusts for the ACME directory's HTTPS, added to its system store; only for a private ACME server (the sandbox's pebble). Unset: the system store alone."),
    })
    .strict();

export type RawConfig = z.input<typeof configSchema>;
type ParsedConfig = z.output<typeof configSchema>;

/** Keys whose values must be set with `pulumi config set --secret`. */
export const secretKeys = ["hostPrivateKey", "githubToken", "githubDeploymentsToken"] as const;
export type SecretKey = (typeof secretKeys)[number];

/**
 * Everything except the secrets, in plain values, with what is derived from them decided here
 * once: the host layout, the platform's differences, each site's URLs and files.
 */
export interface Settings {
    /** The server these settings provision (the first of `servers` at the stack's level; serverSettings() gives each). */
    host: ServerSettings["host"];
    os: ServerSettings["os"];
    /** Every server, in config order; each serves every site. */
    servers: ServerSettings[];
    /** `servers` is set: each server has its own hooks, at its address (hookUrlOn). */
    fleet: boolean;
    /** Every site, in config order; top-level sites (with server names) before none in particular. */
    sites: SiteSettings[];
    receiver: { port: number; path: string };
    sync: { schedule: string };
    github: { apiUrl: string };
    /** Reporting each deploy to GitHub: on when githubDeploymentsToken is set. */
    deployments: { enabled: boolean; environment: string };
    /** HTTPS with an ACME certificate per top-level site, or undefined when `tls` is off. */
    tls?: TlsSettings;
    layout: HostLayout;
    platform: Platform;
}

export interface ServerSettings {
    name: string;
    host: { address: string; port: number; user: string; hostKey: string };
    os: "alpine" | "debian";
    platform: Platform;
}

export interface SiteSettings {
    name: string;
    repository: string;
    owner: string;
    repo: string;
    branch: string;
    /** The served folder without slashes: "" for the whole branch, "docs" for /docs. */
    folder: string;
    cloneUrl: string;
    /** The names it answers to, canonical first; empty for a project site. */
    serverNames: string[];
    /** A project site: served at <parent's URL><path>/. */
    parent?: string;
    path?: string;
    keepReleases: number;
    pin?: string;
    secretVersion: number;
    /** https://example.org/ or https://example.org/docs/ (http:// without TLS). */
    url: string;
    /** Where GitHub delivers its pushes: the site's URL followed by the receiver's path. */
    hookUrl: string;
    /** The path nginx hands to the site's hook: the receiver's path under the site's URL, also
     *  when receiverPublicUrl names another proxy's URL. */
    hookPath: string;
    /** The names of its certificate (top-level sites, with TLS): its server names. */
    certificateNames?: string[];
    layout: SiteLayout;
}

export interface TlsSettings {
    contactEmail?: string;
    directoryUrl: string;
    hstsMaxAge: number;
    caBundle?: string;
}

export interface ValidatedConfig {
    settings: Settings;
    /** hostPrivateKey: the first server's key; serverPrivateKeys: each server's, by server name. */
    secrets: { hostPrivateKey: string; serverPrivateKeys: Record<string, string>; githubToken: string; githubDeploymentsToken?: string };
}

export class ConfigError extends Error {
    constructor(
        readonly namespace: string,
        readonly problems: string[],
    ) {
        super(`Invalid configuration for stack (nothing was changed):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ConfigError";
    }
}

// siteRepository too: Pulumi.yaml gives it "" so that a stack with `sites` need not set it.
const optionalKeys = new Set(["hostAddress", "hostKey", "hostPrivateKey", "siteRepository", "siteCloneUrl", "receiverPublicUrl", "tlsContactEmail", "tlsCaBundle", "githubDeploymentsToken"]);
const numberKeys = new Set(["hostPort", "siteKeepReleases", "receiverPort", "webhookSecretVersion", "tlsHstsMaxAge"]);
const arrayKeys = new Set(["siteServerNames", "sites", "servers"]);

/** Pulumi hands every config value over as a string; turn the typed ones back into values. */
function decode(key: string, raw: string): unknown {
    if (numberKeys.has(key)) return /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
    if (arrayKeys.has(key)) {
        try {
            return JSON.parse(raw);
        } catch {
            return raw;
        }
    }
    return raw;
}

function describeValue(key: string, value: unknown): string {
    if ((secretKeys as readonly string[]).includes(key)) return "";
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return ` (got ${JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text)})`;
}

/**
 * Validates a stack's configuration. `values` are the raw strings of the `<namespace>:` keys;
 * `isSecret` tells whether a key was stored encrypted. Throws a ConfigError naming every bad key.
 */
export function validateConfig(namespace: string, values: Record<string, string>, isSecret: (key: string) => boolean): ValidatedConfig {
    const decoded: Record<string, unknown> = {};
    for (const [key, raw] of Object.entries(values)) {
        // Pulumi.yaml gives optional keys an empty default: empty means "not set" for them.
        if (raw === "" && optionalKeys.has(key)) continue;
        const value = decode(key, raw);
        // An empty list is the default of the optional lists in Pulumi.yaml: not set either.
        if (Array.isArray(value) && value.length === 0 && arrayKeys.has(key)) continue;
        decoded[key] = value;
    }

    const problems: string[] = [];
    const parsed = configSchema.safeParse(decoded);
    if (!parsed.success) {
        for (const issue of parsed.error.issues) {
            const key = String(issue.path[0] ?? "");
            const at = [namespace + ":" + key, ...issue.path.slice(1).map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))].join("");
            if (issue.code === "unrecognized_keys") {
                for (const unknown of issue.keys) {
                    problems.push(issue.path.length === 0 ? `${namespace}:${unknown}: unknown setting (typo?); known settings are listed in the README` : `${at}.${unknown}: unknown site setting (typo?); a site's settings are listed in the README`);
                }
                continue;
            }
            const value = issue.path.reduce<unknown>((v, p) => (v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[p as string | number] : undefined), decoded);
            const message = issue.code === "invalid_type" && value === undefined ? "is required" : issue.message;
            // A server's private key is never echoed back.
            const shown = value === undefined || issue.path.includes("privateKey") ? "" : describeValue(key, value);
            problems.push(`${at}: ${message}${shown}`);
        }
    }
    for (const key of secretKeys) {
        if (values[key] !== undefined && !(values[key] === "" && optionalKeys.has(key)) && !isSecret(key)) {
            problems.push(`${namespace}:${key}: must be stored encrypted: run \`pulumi config set --secret ${key} ...\``);
        }
    }
    const servers = parsed.success ? serverEntries(parsed.data, namespace, isSecret, problems) : [];
    const sites = parsed.success ? siteEntries(parsed.data, namespace, problems) : [];
    if (parsed.success) checkSites(parsed.data, sites, problems);
    if (parsed.success) checkServerAddresses(parsed.data, servers, sites, problems);
    if (parsed.success && parsed.data.githubDeploymentsToken !== undefined && parsed.data.githubDeploymentsToken === parsed.data.githubToken) {
        problems.push(`${namespace}:githubDeploymentsToken: must not be githubToken: it is kept on the server, so give it the Deployments permission only`);
    }
    if (problems.length > 0 || !parsed.success) throw new ConfigError(namespace, problems);
    const { githubToken, githubDeploymentsToken } = parsed.data;
    const serverPrivateKeys = Object.fromEntries(servers.map((server) => [server.name, server.privateKey]));
    return {
        settings: toSettings(parsed.data, servers, sites),
        secrets: { hostPrivateKey: servers[0].privateKey, serverPrivateKeys, githubToken, ...(githubDeploymentsToken === undefined ? {} : { githubDeploymentsToken }) },
    };
}

/** A server as validated, its defaults filled in. */
interface CheckedServer {
    name: string;
    address: string;
    hostKey: string;
    port: number;
    os: "alpine" | "debian";
    privateKey: string;
    key: (field: string) => string;
}

/** The server named by the one-server form: its resources keep the names a one-server stack has always had. */
export const oneServerName = "selfpages";

/** The servers, from `servers` or from the one-server keys (never both). */
function serverEntries(c: ParsedConfig, namespace: string, isSecret: (key: string) => boolean, problems: string[]): CheckedServer[] {
    if (c.servers !== undefined && c.servers.length > 0) {
        for (const key of ["hostAddress", "hostKey"] as const) {
            if (c[key] !== undefined) problems.push(`${namespace}:${key}: is for the one-server form; with \`servers\` set, give each server its own`);
        }
        if (c.receiverPublicUrl !== undefined) problems.push(`${namespace}:receiverPublicUrl: is for the one-server form; with \`servers\` set, GitHub delivers to each server at its address`);
        const names = new Map<string, number>();
        const addresses = new Map<string, number>();
        const servers: CheckedServer[] = [];
        c.servers.forEach((server, i) => {
            const key = (field: string) => `${namespace}:servers[${i}].${field}`;
            const sameName = names.get(server.name);
            if (sameName !== undefined) problems.push(`${key("name")}: ${JSON.stringify(server.name)} is already the name of ${namespace}:servers[${sameName}]`);
            else names.set(server.name, i);
            const sameAddress = addresses.get(`${server.address}:${server.port ?? c.hostPort}`);
            if (sameAddress !== undefined) problems.push(`${key("address")}: ${JSON.stringify(server.address)} is already the address of ${namespace}:servers[${sameAddress}]`);
            else addresses.set(`${server.address}:${server.port ?? c.hostPort}`, i);
            const privateKey = server.privateKey ?? c.hostPrivateKey;
            if (privateKey === undefined) problems.push(`${key("privateKey")}: is required (or set hostPrivateKey, the key of every server that sets none)`);
            servers.push({ name: server.name, address: server.address, hostKey: server.hostKey.trim(), port: server.port ?? c.hostPort, os: server.os ?? c.os, privateKey: privateKey ?? "", key });
        });
        const withKey = c.servers.findIndex((server) => server.privateKey !== undefined);
        if (withKey >= 0 && !isSecret("servers")) {
            problems.push(`${namespace}:servers[${withKey}].privateKey: must be stored encrypted: run \`pulumi config set --secret --path 'servers[${withKey}].privateKey' ...\``);
        }
        return servers;
    }
    const key = (field: string) => `${namespace}:${field}`;
    for (const field of ["hostAddress", "hostKey", "hostPrivateKey"] as const) {
        if (c[field] === undefined) problems.push(`${namespace}:${field}: is required (or list the servers in \`servers\`)`);
    }
    if (c.hostAddress === undefined || c.hostKey === undefined || c.hostPrivateKey === undefined) return [];
    return [{ name: oneServerName, address: c.hostAddress, hostKey: c.hostKey.trim(), port: c.hostPort, os: c.os, privateKey: c.hostPrivateKey, key }];
}

/** GitHub delivers to each server at its address: no site may claim that address as a name. */
function checkServerAddresses(c: ParsedConfig, servers: CheckedServer[], sites: CheckedSite[], problems: string[]): void {
    if (c.servers === undefined || c.servers.length === 0) return;
    for (const server of servers) {
        for (const { site, key } of sites) {
            if (site.serverNames?.includes(server.address)) {
                problems.push(`${server.key("address")}: ${JSON.stringify(server.address)} is also in ${key("serverNames")}: in a fleet, a server's address carries its hooks, and a site's names carry the site to every server`);
            }
        }
    }
}

type SiteEntry = z.output<typeof siteSchema>;

/** A site as validated, with the config key of each of its fields (for error messages). */
interface CheckedSite {
    site: SiteEntry;
    key: (field: keyof SiteEntry) => string;
}

/** The one-site keys, by the site field they stand for. */
const oneSiteKeys: Partial<Record<keyof SiteEntry, keyof ParsedConfig>> = {
    repository: "siteRepository",
    branch: "siteBranch",
    serverNames: "siteServerNames",
    cloneUrl: "siteCloneUrl",
    keepReleases: "siteKeepReleases",
    secretVersion: "webhookSecretVersion",
};
/** The one-site keys that have a default: set to another value, they conflict with `sites`. */
const oneSiteDefaults: Partial<Record<keyof ParsedConfig, unknown>> = { siteBranch: "gh-pages", siteKeepReleases: 3, webhookSecretVersion: 1 };

/** The site named by the one-site form. */
export const oneSiteName = "selfpages";

/** The sites, from `sites` or from the one-site keys (never both). */
function siteEntries(c: ParsedConfig, namespace: string, problems: string[]): CheckedSite[] {
    if (c.sites !== undefined && c.sites.length > 0) {
        for (const key of [...Object.values(oneSiteKeys), "receiverPublicUrl"] as Array<keyof ParsedConfig>) {
            const setHere = key in oneSiteDefaults ? c[key] !== oneSiteDefaults[key] : c[key] !== undefined;
            if (setHere) problems.push(`${namespace}:${key}: is for the one-site form; with \`sites\` set, give each site its own settings`);
        }
        return c.sites.map((site, i) => ({ site, key: (field) => `${namespace}:sites[${i}].${field}` }));
    }
    const key = (field: keyof SiteEntry) => `${namespace}:${oneSiteKeys[field] ?? field}`;
    if (c.siteRepository === undefined) problems.push(`${namespace}:siteRepository: is required (or list the sites in \`sites\`)`);
    if (c.siteServerNames === undefined) problems.push(`${namespace}:siteServerNames: is required (or list the sites in \`sites\`)`);
    if (c.siteRepository === undefined || c.siteServerNames === undefined) return [];
    if (c.receiverPublicUrl === undefined && c.siteServerNames[0].startsWith("*.")) {
        problems.push(`${namespace}:receiverPublicUrl: is required when the first server name is a wildcard`);
    }
    const site: SiteEntry = {
        name: oneSiteName,
        repository: c.siteRepository,
        branch: c.siteBranch,
        folder: "/",
        serverNames: c.siteServerNames,
        cloneUrl: c.siteCloneUrl,
        keepReleases: c.siteKeepReleases,
        secretVersion: c.webhookSecretVersion,
    };
    return [{ site, key }];
}

/** What a list of sites must hold together: names, server names and paths each claimed once. */
function checkSites(c: ParsedConfig, sites: CheckedSite[], problems: string[]): void {
    const byName = new Map<string, CheckedSite>();
    const nameOwner = new Map<string, string>();
    const pathOwner = new Map<string, string>();
    for (const entry of sites) {
        const { site, key } = entry;
        const other = byName.get(site.name);
        if (other) problems.push(`${key("name")}: ${JSON.stringify(site.name)} is already the name of ${other.key("name").replace(/\.name$/, "")}`);
        else byName.set(site.name, entry);
    }
    for (const { site, key } of sites) {
        if (site.path === undefined) {
            if (site.parent !== undefined) problems.push(`${key("parent")}: goes with \`path\`: a site under another one is served at <parent>/<path>/`);
            if (site.serverNames === undefined) problems.push(`${key("serverNames")}: is required (or give the site a \`parent\` and a \`path\`)`);
            else if ((site.serverNames[0] === "_" || site.serverNames[0].startsWith("*.")) && (sites.length > 1 || site.serverNames.length > 1)) {
                problems.push(`${key("serverNames")}[0]: must be a name, not ${JSON.stringify(site.serverNames[0])}: the first name is the site's canonical name, which the others redirect to`);
            }
            site.serverNames?.forEach((name, i) => {
                const owner = nameOwner.get(name);
                if (owner) problems.push(`${key("serverNames")}[${i}]: ${JSON.stringify(name)} is already a server name of ${owner}`);
                else nameOwner.set(name, key("name").replace(/\.name$/, ""));
                // HTTP-01 proves a DNS name: no catch-all, wildcard or IP address can get a certificate.
                if (c.tls === "acme" && (name === "_" || name.startsWith("*.") || ipv4.test(name) || name.includes(":") || !name.includes("."))) {
                    problems.push(`${key("serverNames")}[${i}]: must be a DNS name (a.example.org) when tls is acme: a certificate cannot name ${JSON.stringify(name)}; set tls to off for a catch-all or an IP (got ${JSON.stringify(name)})`);
                }
            });
            continue;
        }
        if (site.serverNames !== undefined) problems.push(`${key("serverNames")}: a site with a \`path\` answers under its parent's names, not its own`);
        if (site.parent === undefined) {
            problems.push(`${key("parent")}: is required with \`path\`: the site whose canonical name serves /${site.path}/`);
            continue;
        }
        const parent = byName.get(site.parent);
        if (!parent) {
            problems.push(`${key("parent")}: no site is named ${JSON.stringify(site.parent)}`);
            continue;
        }
        if (parent.site.path !== undefined) {
            problems.push(`${key("parent")}: ${JSON.stringify(site.parent)} is itself under another site; a parent must have server names`);
            continue;
        }
        const owner = pathOwner.get(`${site.parent}/${site.path}`);
        if (owner) problems.push(`${key("path")}: /${site.path}/ under ${JSON.stringify(site.parent)} is already served by ${owner}`);
        else pathOwner.set(`${site.parent}/${site.path}`, key("name").replace(/\.name$/, ""));
    }
}

function toSettings(c: ParsedConfig, checkedServers: CheckedServer[], checked: CheckedSite[]): Settings {
    const servers = checkedServers.map((server): ServerSettings => ({
        name: server.name,
        host: { address: server.address, port: server.port, user: c.hostUser, hostKey: server.hostKey },
        os: server.os,
        platform: platforms[server.os],
    }));
    const [first] = servers;
    const scheme = c.tls === "acme" ? "https" : "http";
    const layout = hostLayout(c.siteRoot.replace(/\/+$/, ""));
    const receiverPath = c.receiverPath;
    const urls = new Map<string, string>();
    // The URL of a site with names: the first that is one (not "_", not a wildcard), else the host's address.
    for (const { site } of checked) {
        if (site.serverNames === undefined) continue;
        const firstName = site.serverNames.find((n) => n !== "_" && !n.startsWith("*.")) ?? first.host.address;
        urls.set(site.name, `${scheme}://${urlHost(firstName)}/`);
    }
    const sites = checked.map(({ site }): SiteSettings => {
        const [owner, repo] = site.repository.split("/");
        const url = site.path === undefined ? (urls.get(site.name) as string) : `${urls.get(site.parent as string) as string}${site.path}/`;
        return {
            name: site.name,
            repository: site.repository,
            owner,
            repo,
            branch: site.branch,
            folder: site.folder.replace(/^\//, ""),
            cloneUrl: site.cloneUrl ?? `https://github.com/${site.repository}.git`,
            serverNames: site.serverNames ?? [],
            ...(site.path === undefined ? {} : { parent: site.parent, path: site.path }),
            keepReleases: site.keepReleases,
            ...(site.pin === undefined ? {} : { pin: site.pin }),
            secretVersion: site.secretVersion,
            url,
            hookUrl: checked.length === 1 && c.receiverPublicUrl !== undefined ? c.receiverPublicUrl : `${url}${receiverPath.slice(1)}`,
            hookPath: `${new URL(url).pathname}${receiverPath.slice(1)}`,
            ...(c.tls === "acme" && site.path === undefined ? { certificateNames: site.serverNames } : {}),
            layout: siteLayout(layout, site.name),
        };
    });
    return {
        host: first.host,
        os: first.os,
        servers,
        fleet: c.servers !== undefined && c.servers.length > 0,
        sites,
        receiver: { port: c.receiverPort, path: receiverPath },
        sync: { schedule: c.syncSchedule.trim().replace(/\s+/g, " ") },
        github: { apiUrl: c.githubApiUrl.replace(/\/+$/, "") },
        deployments: { enabled: c.githubDeploymentsToken !== undefined, environment: c.githubEnvironment },
        tls: c.tls === "acme" ? { contactEmail: c.tlsContactEmail, directoryUrl: c.tlsAcmeDirectoryUrl, hstsMaxAge: c.tlsHstsMaxAge, caBundle: c.tlsCaBundle?.trim() } : undefined,
        layout,
        platform: first.platform,
    };
}

/** A host in a URL: an IPv6 address in brackets. */
export const urlHost = (address: string) => (address.includes(":") ? `[${address}]` : address);

/** The settings that provision one server: the stack's, with that server's address, OS and platform. */
export function serverSettings(settings: Settings, server: ServerSettings): Settings {
    return { ...settings, host: server.host, os: server.os, platform: server.platform };
}

/**
 * Where GitHub delivers a site's pushes for one server: the site's hook URL for the one-server
 * form; in a fleet, the server's own address (every server gets every push; DNS spreads visitors,
 * not deliveries), by plain HTTP since no certificate names a server's address. The payload is
 * signed with the site's secret, which never travels.
 */
export function hookUrlOn(settings: Pick<Settings, "fleet" | "receiver">, site: SiteSettings, server: ServerSettings): string {
    if (!settings.fleet) return site.hookUrl;
    return `http://${urlHost(server.host.address)}${serverHookPath(settings, site)}`;
}

/** The path of a site's hook at a fleet server's address: the receiver's path, then the site's name. */
export function serverHookPath(settings: Pick<Settings, "receiver">, site: Pick<SiteSettings, "name">): string {
    return `${settings.receiver.path}/${site.name}`;
}

/** The sites with names of their own (not under another site's), in config order. */
export function topLevelSites(settings: Pick<Settings, "sites">): SiteSettings[] {
    return settings.sites.filter((s) => s.path === undefined);
}
