import { describe, expect, it } from "vitest";
import { letsEncryptProduction, letsEncryptStaging } from "../../lib/config";
import { ConfigError, validateConfig } from "../../lib/config";
import { isSecretKey, committedStackValues, testDeploymentsToken, testPrivateKey, testToken, validConfig, validValues } from "./fixtures";

function problemsFor(values: Record<string, string>, isSecret = isSecretKey): string[] {
    try {
        validateConfig("selfpages", values, isSecret);
    } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems;
    }
    throw new Error("config was accepted");
}

describe("config", () => {
    it("parses the committed prod stack once the secrets are set", () => {
        const { settings } = validateConfig("selfpages", { ...committedStackValues("prod"), hostPrivateKey: testPrivateKey, githubToken: testToken }, isSecretKey);
        expect(settings.site.repository).toBe("do-it-ecm/do-it");
        expect(settings.site.branch).toBe("gh-pages");
        expect(settings.os).toBe("alpine");
        expect(settings.site.cloneUrl).toBe("https://github.com/do-it-ecm/do-it.git");
        expect(settings.receiver.publicUrl).toBe("https://do-it.example.org/webhook");
        expect(settings.tls).toMatchObject({ directoryUrl: letsEncryptProduction, hstsMaxAge: 0, names: ["do-it.example.org"] });
        expect(settings.sync.schedule).toBe("*/15 * * * *");
        expect(settings.github).toEqual({ apiUrl: "https://api.github.com", owner: "do-it-ecm", repo: "do-it" });
    });

    it("fills the documented defaults", () => {
        const { settings, secrets } = validConfig();
        expect(settings.host).toMatchObject({ port: 22, user: "root" });
        expect(settings.site).toMatchObject({ root: "/srv/selfpages", keepReleases: 3, branch: "gh-pages" });
        expect(settings.receiver).toMatchObject({ port: 9000, path: "/webhook" });
        expect(settings.webhookSecretVersion).toBe(1);
        expect(settings.siteUrl).toBe("https://do-it.example.org/");
        // Reporting deploys to GitHub is off without its token.
        expect(settings.deployments).toEqual({ enabled: false, environment: "selfpages" });
        expect(secrets).toEqual({ hostPrivateKey: testPrivateKey, githubToken: testToken });
    });

    it("turns deployment reporting on with its token (an empty value, Pulumi.yaml's default, is unset)", () => {
        const on = validConfig({ githubDeploymentsToken: testDeploymentsToken, githubEnvironment: "www.prod_1" });
        expect(on.settings.deployments).toEqual({ enabled: true, environment: "www.prod_1" });
        expect(on.secrets.githubDeploymentsToken).toBe(testDeploymentsToken);
        const unset = validateConfig("selfpages", validValues({ githubDeploymentsToken: "" }), () => true);
        expect(unset.settings.deployments.enabled).toBe(false);
        expect(unset.secrets).not.toHaveProperty("githubDeploymentsToken");
        // "" is Pulumi.yaml's default for it, which is not stored encrypted.
        expect(() => validateConfig("selfpages", validValues({ githubDeploymentsToken: "" }), (key) => key !== "githubDeploymentsToken")).not.toThrow();
    });

    it("refuses the webhooks token as the deployments token: the latter lives on the server", () => {
        const problems = problemsFor(validValues({ githubDeploymentsToken: testToken }));
        expect(problems).toEqual([expect.stringMatching(/^selfpages:githubDeploymentsToken: must not be githubToken/)]);
        expect(problems.join("\n")).not.toContain(testToken);
    });

    it("takes the site URL from the first real server name, else the host's address", () => {
        const off = { tls: "off" };
        expect(validConfig({ ...off, siteServerNames: '["_", "*.example.org", "www.example.org"]', receiverPublicUrl: "https://hooks.example.org/webhook" }).settings.siteUrl).toBe("http://www.example.org/");
        expect(validConfig({ ...off, siteServerNames: '["_"]' }).settings.siteUrl).toBe("http://203.0.113.10/");
        expect(validConfig({ ...off, siteServerNames: '["_"]', hostAddress: "2001:db8::10" }).settings.siteUrl).toBe("http://[2001:db8::10]/");
    });

    // One bad value per field: each must produce exactly one message naming that field.
    const badValues: Array<[string, string, RegExp]> = [
        ["hostAddress", "not a host!", /must be a hostname or an IP address/],
        ["hostAddress", "999.1.1.1", /must be a hostname or an IP address/],
        ["hostPort", "0", /at least 1/],
        ["hostPort", "70000", /at most 65535/],
        ["hostPort", "22.5", /integer/],
        ["hostPort", "ssh", /expected number|Invalid input/],
        ["hostUser", "Root User", /Unix user name/],
        ["hostPrivateKey", "ssh-ed25519 AAAA not a private key", /PEM or OpenSSH private key/],
        ["hostKey", "AAAAC3NzaC1lZDI1NTE5", /host key line/],
        ["os", "ubuntu", /alpine|debian/],
        ["siteRepository", "do-it", /owner\/name/],
        ["siteBranch", "gh pages", /valid git branch name/],
        ["siteBranch", "a..b", /valid git branch name/],
        ["siteCloneUrl", "github.com/do-it-ecm/do-it", /URL/],
        ["siteServerNames", "do-it.example.org", /expected array|Invalid input/],
        ["siteServerNames", "[]", /at least one server name/],
        ["siteServerNames", '["ok.example.org", "bad name"]', /hostname/],
        ["siteRoot", "srv/site", /absolute path/],
        ["siteRoot", "/srv/../etc", /must not contain '\.\.'/],
        ["siteRoot", "/", /root directory/],
        ["siteRoot", "/srv/my site", /absolute path/],
        ["siteKeepReleases", "1", /at least 2/],
        ["receiverPort", "80", /at least 1024/],
        ["receiverPath", "webhook", /URL path/],
        ["receiverPath", "/web hook", /URL path/],
        ["receiverPublicUrl", "ftp://example.org/webhook", /http/],
        ["receiverPublicUrl", "https://user:pw@example.org/webhook", /without credentials/],
        ["syncSchedule", "every 15 minutes", /cron schedule/],
        ["syncSchedule", "*/15 * * *", /cron schedule/],
        ["syncSchedule", "61 * * * *", /cron schedule/],
        ["syncSchedule", "*/0 * * * *", /cron schedule/],
        ["githubToken", "", /must not be empty/],
        ["githubApiUrl", "api.github.com", /http/],
        ["githubDeploymentsToken", "ghp_short", /must be a GitHub token/],
        ["githubDeploymentsToken", "github_pat_has a space in it 0123456789", /must be a GitHub token/],
        ["githubDeploymentsToken", 'github_pat_0123456789"\nheader = x', /must be a GitHub token/],
        ["githubEnvironment", "my site", /letters, digits/],
        ["githubEnvironment", "", /letters, digits/],
        ["githubEnvironment", "a/b", /letters, digits/],
        ["webhookSecretVersion", "0", /at least 1/],
        ["webhookSecretVersion", "two", /expected number|Invalid input/],
    ];
    it.each(badValues)("rejects %s = %j naming the field", (key, value, reason) => {
        const problems = problemsFor(validValues({ [key]: value }));
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(new RegExp(`^selfpages:${key}(\\[\\d+\\])?: `));
        expect(problems[0]).toMatch(reason);
    });

    it.each(["hostAddress", "hostKey", "hostPrivateKey", "siteRepository", "siteServerNames", "githubToken"])("requires %s", (key) => {
        const values = validValues();
        delete values[key];
        expect(problemsFor(values)).toEqual([`selfpages:${key}: is required`]);
    });

    it("needs an explicit webhook URL when the first server name is a wildcard", () => {
        expect(problemsFor(validValues({ siteServerNames: '["*.example.org"]', tls: "off" }))).toEqual([expect.stringMatching(/^selfpages:receiverPublicUrl: is required/)]);
    });

    it("rejects unknown keys, so a typo is not silently ignored", () => {
        expect(problemsFor(validValues({ siteBrnach: "main" }))).toEqual([expect.stringMatching(/^selfpages:siteBrnach: unknown setting/)]);
    });

    it("requires the private key and tokens to be stored encrypted", () => {
        const problems = problemsFor(validValues({ githubDeploymentsToken: testDeploymentsToken }), () => false);
        expect(problems).toEqual([
            expect.stringMatching(/^selfpages:hostPrivateKey: must be stored encrypted/),
            expect.stringMatching(/^selfpages:githubToken: must be stored encrypted/),
            expect.stringMatching(/^selfpages:githubDeploymentsToken: must be stored encrypted/),
        ]);
    });

    it("lists every problem at once and never echoes a secret", () => {
        const problems = problemsFor(validValues({ hostPort: "0", githubToken: "", hostPrivateKey: "not-a-key-but-still-secret", githubDeploymentsToken: "bad token-but-still-secret" }));
        expect(problems).toHaveLength(4);
        expect(problems.join("\n")).not.toContain("not-a-key-but-still-secret");
        expect(problems.join("\n")).not.toContain("bad token-but-still-secret");
    });

    it("accepts IPv6 hosts, wildcard server names and GitHub Enterprise", () => {
        const { settings } = validConfig({ hostAddress: "2001:db8::10", siteServerNames: '["*.example.org"]', tls: "off", receiverPublicUrl: "https://hooks.example.org/webhook", githubApiUrl: "https://ghe.example.org/api/v3/", hostPort: "2222" });
        expect(settings.host).toMatchObject({ address: "2001:db8::10", port: 2222 });
        expect(settings.github.apiUrl).toBe("https://ghe.example.org/api/v3");
    });

    describe("tls", () => {
        const pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGVGb3JUZXN0czAKBggqhkjOPQQDAjA=\n-----END CERTIFICATE-----\n";

        it("is on by default: Let's Encrypt production, no HSTS, https URLs, every server name on the certificate", () => {
            const { settings } = validConfig();
            expect(settings.tls).toEqual({ contactEmail: undefined, directoryUrl: letsEncryptProduction, hstsMaxAge: 0, caBundle: undefined, names: ["do-it.example.org", "www.do-it.example.org"] });
            expect(settings.siteUrl).toBe("https://do-it.example.org/");
            expect(settings.receiver.publicUrl).toBe("https://do-it.example.org/webhook");
        });

        it("takes the contact, staging directory, HSTS max-age and a CA bundle", () => {
            const { settings } = validConfig({ tlsContactEmail: "web@example.org", tlsAcmeDirectoryUrl: letsEncryptStaging, tlsHstsMaxAge: "31536000", tlsCaBundle: pem });
            expect(settings.tls).toMatchObject({ contactEmail: "web@example.org", directoryUrl: letsEncryptStaging, hstsMaxAge: 31536000, caBundle: pem.trim() });
        });

        it("off: plain HTTP URLs, and catch-all or IP server names are allowed", () => {
            const { settings } = validConfig({ tls: "off", siteServerNames: '["_"]' });
            expect(settings.tls).toBeUndefined();
            expect(settings.siteUrl).toBe("http://203.0.113.10/");
            expect(settings.receiver.publicUrl).toBe("http://203.0.113.10/webhook");
        });

        it("reads empty optional values as unset", () => {
            expect(validConfig({ tlsContactEmail: "", tlsCaBundle: "" }).settings.tls).toMatchObject({ contactEmail: undefined, caBundle: undefined });
        });

        it.each([
            ["tls", "on", /^selfpages:tls: must be acme or off/],
            ["tlsContactEmail", "webmaster", /^selfpages:tlsContactEmail: must be an email address/],
            ["tlsContactEmail", "a b@example.org", /^selfpages:tlsContactEmail: must be an email address/],
            ["tlsAcmeDirectoryUrl", "http://acme.example.org/directory", /^selfpages:tlsAcmeDirectoryUrl: must be an https:\/\/ URL/],
            ["tlsAcmeDirectoryUrl", "https://user:pw@acme.example.org/directory", /^selfpages:tlsAcmeDirectoryUrl: must be an https:\/\/ URL/],
            ["tlsAcmeDirectoryUrl", "letsencrypt", /^selfpages:tlsAcmeDirectoryUrl: must be an https:\/\/ URL/],
            ["tlsHstsMaxAge", "-1", /^selfpages:tlsHstsMaxAge: must be at least 0/],
            ["tlsHstsMaxAge", "1.5", /^selfpages:tlsHstsMaxAge: must be an integer/],
            ["tlsHstsMaxAge", "99999999", /^selfpages:tlsHstsMaxAge: must be at most 63072000/],
            ["tlsHstsMaxAge", "year", /^selfpages:tlsHstsMaxAge: /],
            ["tlsCaBundle", "not a certificate", /^selfpages:tlsCaBundle: must be one or more PEM certificates/],
            ["tlsCaBundle", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", /^selfpages:tlsCaBundle: must be one or more PEM certificates/],
        ])("rejects %s = %j", (key, value, message) => {
            expect(problemsFor(validValues({ [key]: value }))).toEqual([expect.stringMatching(message)]);
        });

        it.each(["_", "*.example.org", "198.51.100.7", "2001:db8::1", "localhost"])("refuses the server name %j while tls is acme", (name) => {
            const problems = problemsFor(validValues({ siteServerNames: JSON.stringify(["ok.example.org", name]), receiverPublicUrl: "https://ok.example.org/webhook" }));
            expect(problems).toEqual([expect.stringMatching(/^selfpages:siteServerNames\[1\]: must be a DNS name .* when tls is acme/)]);
        });
    });
});
