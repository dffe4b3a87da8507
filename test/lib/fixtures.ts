import * as path from "node:path";
import { validateConfig, type ValidatedConfig } from "../../lib/config";
import { stackFileValues } from "../../lib/stackConfig";

export const repoRoot = path.resolve(__dirname, "..", "..");

export const testPrivateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n";
export const testToken = "ghp_unitTestTokenThatMustNeverLeak0123456789";

/** A complete, valid set of raw config values, as Pulumi hands them over (all strings). */
export function validValues(overrides: Record<string, string> = {}): Record<string, string> {
    return {
        hostAddress: "203.0.113.10",
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcdefgh",
        hostPrivateKey: testPrivateKey,
        siteRepository: "do-it-ecm/do-it",
        siteServerNames: JSON.stringify(["do-it.example.org", "www.do-it.example.org"]),
        githubToken: testToken,
        ...overrides,
    };
}

/** The three sites of issue 19: a main site, a project site under its name, and one published from /docs. */
export const assocSites = [
    { name: "main", repository: "assoc/site", serverNames: ["assoc.example.org", "www.assoc.example.org"] },
    { name: "docs", repository: "assoc/docs", parent: "main", path: "docs" },
    { name: "events", repository: "assoc/events", folder: "/docs", serverNames: ["events.example.org"] },
];

/** Values with a `sites` list instead of the one-site keys, which keep what Pulumi.yaml's defaults give them. */
export function sitesValues(sites: unknown[], overrides: Record<string, string> = {}): Record<string, string> {
    return { sites: JSON.stringify(sites), siteRepository: "", siteServerNames: "[]", ...overrides };
}

export function validSitesConfig(sites: unknown[] = assocSites, overrides: Record<string, string> = {}, os: "alpine" | "debian" = "alpine"): ValidatedConfig {
    return validConfig(sitesValues(sites, overrides), os);
}

export const testDeploymentsToken = "github_pat_unitTestDeploymentsTokenNeverLeaks_0123456789";

const secret = new Set(["hostPrivateKey", "githubToken", "githubDeploymentsToken"]);
export const isSecretKey = (key: string) => secret.has(key);

export function validConfig(overrides: Record<string, string> = {}, os: "alpine" | "debian" = "alpine"): ValidatedConfig {
    return validateConfig("selfpages", validValues({ os, ...overrides }), isSecretKey);
}

/** The values of a committed Pulumi.<stack>.yaml, as strings like the engine passes them. */
export function committedStackValues(stack: string): Record<string, string> {
    return stackFileValues(path.join(repoRoot, `Pulumi.${stack}.yaml`));
}

export const testHostKey2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghi";

/** Three servers of a fleet: the first keeps the one-server form's name, the third has its own key. */
export const fleetServers = [
    { name: "selfpages", address: "203.0.113.10", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcdefgh" },
    { name: "web2", address: "203.0.113.11", hostKey: testHostKey2, port: 2222 },
    { name: "web3", address: "2001:db8::3", hostKey: testHostKey2, os: "debian", privateKey: testPrivateKey.replace("OPENSSH PRIVATE KEY-----\n", "OPENSSH PRIVATE KEY-----\nb3Blbn") },
];

/** The fleet form: `servers` instead of hostAddress and hostKey (hostPrivateKey shared). */
export function fleetValues(servers: unknown[] = fleetServers, overrides: Record<string, string> = {}): Record<string, string> {
    const values = validValues({ servers: JSON.stringify(servers), ...overrides });
    delete values.hostAddress;
    delete values.hostKey;
    return values;
}

/** `servers` stored with a secret inside it (`pulumi config set --secret --path 'servers[2].privateKey'`). */
export const isSecretKeyInFleet = (key: string) => key === "servers" || isSecretKey(key);

export function validFleetConfig(servers: unknown[] = fleetServers, overrides: Record<string, string> = {}): ValidatedConfig {
    return validateConfig("selfpages", fleetValues(servers, overrides), isSecretKeyInFleet);
}
