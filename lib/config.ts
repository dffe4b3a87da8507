import { z } from "zod";
import { hostLayout, type HostLayout } from "./layout";
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

export const configSchema = z
    .object({
        hostAddress: z
            .string()
            .refine(isHost, "must be a hostname or an IP address")
            .describe("Address (hostname or IP) of the server to provision over SSH."),
        hostPort: port(1).default(22).describe("SSH port of the server."),
        hostUser: z
            .string()
            .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a Unix user name")
            .default("root")
            .describe("SSH user; must be root: the host check refuses any other."),
        hostPrivateKey: z
            .string()
            .refine((k) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(k) && /-----END [A-Z ]*PRIVATE KEY-----/.test(k), "must be a PEM or OpenSSH private key")
            .describe("SSH private key (secret: set it with --secret)."),
        hostKey: z
            .string()
            .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}( .*)?$/, "must be one public host key line such as 'ssh-ed25519 AAAA...' (see ssh-keyscan)")
            .describe("The server's SSH host key, pinned: connections to a host presenting another key are refused."),
        os: z.enum(["alpine", "debian"]).default("alpine").describe("OS family of the server: alpine (default) or debian, both with OpenRC."),
        siteRepository: z
            .string()
            .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/, "must be a GitHub repository as owner/name")
            .describe("GitHub repository (owner/name) that publishes the site."),
        siteBranch: z
            .string()
            .regex(/^(?!\/|.*([/.]\.|\/\/|@\{|\\|\.lock$|\/$))[^\x00-\x20~^:?*[\x7f]+$/, "must be a valid git branch name")
            .default("gh-pages")
            .describe("Branch holding the built site."),
        siteCloneUrl: z
            .string()
            .regex(/^(https?|git|ssh|file):\/\/\S+$/, "must be an https://, http://, git://, ssh:// or file:// URL")
            .optional()
            .describe("URL the server clones the site from (default: https://github.com/<siteRepository>.git)."),
        siteServerNames: z
            .array(z.string().refine((n) => n === "_" || isHost(n) || /^\*\.[A-Za-z0-9.-]+$/.test(n), "must be a hostname, an IP address or '_'"))
            .min(1, "must list at least one server name")
            .describe("nginx server_name values (a list); the first is used in the default webhook URL."),
        siteRoot: absolutePath.default("/srv/selfpages").describe("Directory on the server holding the clone, the releases and the `current` link nginx serves."),
        siteKeepReleases: z.number().int("must be an integer").min(2, "must be at least 2").max(20, "must be at most 20").default(3).describe("How many releases to keep on the server (the current one included)."),
        receiverPort: port(1024).default(9000).describe("Loopback port of the webhook receiver (nginx proxies to it)."),
        receiverPath: z
            .string()
            .regex(/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, "must be a URL path such as /webhook")
            .default("/webhook")
            .describe("Public URL path of the webhook on the site's server."),
        receiverPublicUrl: httpUrl.optional().describe("URL GitHub delivers to (default: https://<first server name><receiverPath>, http:// when tls is off)."),
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
        webhookSecretVersion: z.number().int("must be an integer").min(1, "must be at least 1").default(1).describe("Change it (bump it by one) to rotate the webhook secret: during that `up` the receiver accepts the new and the old secret until GitHub has switched, then only the new one."),
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
 * once: the host layout, the platform's differences, the site's and the webhook's URLs.
 */
export interface Settings {
    host: { address: string; port: number; user: string; hostKey: string };
    os: "alpine" | "debian";
    site: {
        repository: string;
        branch: string;
        cloneUrl: string;
        serverNames: string[];
        root: string;
        keepReleases: number;
    };
    receiver: { port: number; path: string; publicUrl: string };
    sync: { schedule: string };
    github: { apiUrl: string; owner: string; repo: string };
    /** Reporting each deploy to GitHub: on when githubDeploymentsToken is set. */
    deployments: { enabled: boolean; environment: string };
    webhookSecretVersion: number;
    /** HTTPS with an ACME certificate, or undefined when `tls` is off. */
    tls?: TlsSettings;
    /** The site's URL: the first server name that is a name (not `_`, not a wildcard), else the host's address. */
    siteUrl: string;
    layout: HostLayout;
    platform: Platform;
}

export interface TlsSettings {
    contactEmail?: string;
    directoryUrl: string;
    hstsMaxAge: number;
    caBundle?: string;
    /** The certificate's names: every server name, the first one naming it on disk. */
    names: string[];
}

export interface ValidatedConfig {
    settings: Settings;
    secrets: { hostPrivateKey: string; githubToken: string; githubDeploymentsToken?: string };
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

const optionalKeys = new Set(["siteCloneUrl", "receiverPublicUrl", "tlsContactEmail", "tlsCaBundle", "githubDeploymentsToken"]);
const numberKeys = new Set(["hostPort", "siteKeepReleases", "receiverPort", "webhookSecretVersion", "tlsHstsMaxAge"]);
const arrayKeys = new Set(["siteServerNames"]);

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
        decoded[key] = decode(key, raw);
    }

    const problems: string[] = [];
    const parsed = configSchema.safeParse(decoded);
    if (!parsed.success) {
        for (const issue of parsed.error.issues) {
            if (issue.code === "unrecognized_keys") {
                for (const key of issue.keys) problems.push(`${namespace}:${key}: unknown setting (typo?); known settings are listed in the README`);
                continue;
            }
            const key = String(issue.path[0] ?? "");
            const field = [namespace + ":" + key, ...issue.path.slice(1).map((p) => `[${String(p)}]`)].join("");
            const message = issue.code === "invalid_type" && decoded[key] === undefined ? "is required" : issue.message;
            problems.push(`${field}: ${message}${decoded[key] === undefined ? "" : describeValue(key, issue.path.length > 1 ? decoded[key] : decoded[key])}`);
        }
    }
    for (const key of secretKeys) {
        if (values[key] !== undefined && !(values[key] === "" && optionalKeys.has(key)) && !isSecret(key)) {
            problems.push(`${namespace}:${key}: must be stored encrypted: run \`pulumi config set --secret ${key} ...\``);
        }
    }
    if (parsed.success && parsed.data.receiverPublicUrl === undefined && parsed.data.siteServerNames[0].startsWith("*.")) {
        problems.push(`${namespace}:receiverPublicUrl: is required when the first server name is a wildcard`);
    }
    if (parsed.success && parsed.data.tls === "acme") {
        // HTTP-01 proves a DNS name: no catch-all, wildcard or IP address can get a certificate.
        parsed.data.siteServerNames.forEach((name, i) => {
            if (name === "_" || name.startsWith("*.") || ipv4.test(name) || name.includes(":") || !name.includes(".")) {
                problems.push(`${namespace}:siteServerNames[${i}]: must be a DNS name (a.example.org) when tls is acme: a certificate cannot name ${JSON.stringify(name)}; set tls to off for a catch-all or an IP (got ${JSON.stringify(name)})`);
            }
        });
    }
    if (parsed.success && parsed.data.githubDeploymentsToken !== undefined && parsed.data.githubDeploymentsToken === parsed.data.githubToken) {
        problems.push(`${namespace}:githubDeploymentsToken: must not be githubToken: it is kept on the server, so give it the Deployments permission only`);
    }
    if (problems.length > 0 || !parsed.success) throw new ConfigError(namespace, problems);
    const { hostPrivateKey, githubToken, githubDeploymentsToken } = parsed.data;
    return { settings: toSettings(parsed.data), secrets: { hostPrivateKey, githubToken, ...(githubDeploymentsToken === undefined ? {} : { githubDeploymentsToken }) } };
}

function toSettings(c: ParsedConfig): Settings {
    const [owner, repo] = c.siteRepository.split("/");
    // The site's name: the first server name that is one (not "_", not a wildcard), else the host's address.
    const firstName = c.siteServerNames.find((n) => n !== "_" && !n.startsWith("*.")) ?? c.hostAddress;
    const siteName = firstName.includes(":") ? `[${firstName}]` : firstName;
    const siteRoot = c.siteRoot.replace(/\/+$/, "");
    const scheme = c.tls === "acme" ? "https" : "http";
    return {
        host: { address: c.hostAddress, port: c.hostPort, user: c.hostUser, hostKey: c.hostKey.trim() },
        os: c.os,
        site: {
            repository: c.siteRepository,
            branch: c.siteBranch,
            cloneUrl: c.siteCloneUrl ?? `https://github.com/${c.siteRepository}.git`,
            serverNames: c.siteServerNames,
            root: siteRoot,
            keepReleases: c.siteKeepReleases,
        },
        receiver: {
            port: c.receiverPort,
            path: c.receiverPath,
            publicUrl: c.receiverPublicUrl ?? `${scheme}://${siteName}${c.receiverPath}`,
        },
        sync: { schedule: c.syncSchedule.trim().replace(/\s+/g, " ") },
        github: { apiUrl: c.githubApiUrl.replace(/\/+$/, ""), owner, repo },
        deployments: { enabled: c.githubDeploymentsToken !== undefined, environment: c.githubEnvironment },
        webhookSecretVersion: c.webhookSecretVersion,
        tls:
            c.tls === "acme"
                ? { contactEmail: c.tlsContactEmail, directoryUrl: c.tlsAcmeDirectoryUrl, hstsMaxAge: c.tlsHstsMaxAge, caBundle: c.tlsCaBundle?.trim(), names: c.siteServerNames }
                : undefined,
        siteUrl: `${scheme}://${siteName}/`,
        layout: hostLayout(siteRoot),
        platform: platforms[c.os],
    };
}
