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
        // The association's three sites; the main one keeps the one-site form's name.
        expect(settings.sites.map((s) => s.name)).toEqual(["selfpages", "docs", "gala"]);
        const [site, docs, gala] = settings.sites;
        expect(site.repository).toBe("do-it-ecm/do-it");
        expect(site.branch).toBe("gh-pages");
        expect(settings.os).toBe("alpine");
        expect(site.cloneUrl).toBe("https://github.com/do-it-ecm/do-it.git");
        expect(site.hookUrl).toBe("https://do-it.example.org/webhook");
        expect(settings.tls).toMatchObject({ directoryUrl: letsEncryptProduction, hstsMaxAge: 0 });
        expect(site.certificateNames).toEqual(["do-it.example.org", "www.do-it.example.org"]);
        expect(settings.sync.schedule).toBe("*/15 * * * *");
        expect(settings.github).toEqual({ apiUrl: "https://api.github.com" });
        expect(site).toMatchObject({ owner: "do-it-ecm", repo: "do-it" });
        expect(docs).toMatchObject({ repository: "do-it-ecm/docs", folder: "docs", parent: "selfpages", path: "docs", url: "https://do-it.example.org/docs/", hookUrl: "https://do-it.example.org/docs/webhook" });
        expect(docs).not.toHaveProperty("certificateNames");
        expect(gala).toMatchObject({ repository: "do-it-ecm/gala", url: "https://gala.do-it.example.org/", certificateNames: ["gala.do-it.example.org"] });
    });

    it("fills the documented defaults", () => {
        const { settings, secrets } = validConfig();
        expect(settings.host).toMatchObject({ port: 22, user: "root" });
        expect(settings.layout.siteRoot).toBe("/srv/selfpages");
        expect(settings.sites).toHaveLength(1);
        expect(settings.sites[0]).toMatchObject({ name: "selfpages", keepReleases: 3, branch: "gh-pages", folder: "", secretVersion: 1, serverNames: ["do-it.example.org", "www.do-it.example.org"] });
        expect(settings.sites[0].layout.root).toBe("/srv/selfpages/sites/selfpages");
        expect(settings.sites[0]).not.toHaveProperty("pin");
        expect(settings.sites[0]).not.toHaveProperty("parent");
        expect(settings.receiver).toEqual({ port: 9000, path: "/webhook" });
        expect(settings.sites[0].url).toBe("https://do-it.example.org/");
        // Reporting deploys to GitHub is off without its token.
        expect(settings.deployments).toEqual({ enabled: false, environment: "selfpages" });
        expect(secrets).toEqual({ hostPrivateKey: testPrivateKey, serverPrivateKeys: { selfpages: testPrivateKey }, githubToken: testToken });
        // The one-server form: one server, named as the stacks of earlier releases hold it.
        expect(settings.fleet).toBe(false);
        expect(settings.servers).toEqual([{ name: "selfpages", host: settings.host, os: "alpine", platform: settings.platform }]);
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

    it("takes the site URL from its first server name, else (a catch-all or a wildcard alone) the host's address", () => {
        const off = { tls: "off" };
        expect(validConfig({ ...off, siteServerNames: '["www.example.org", "*.example.org", "_"]' }).settings.sites[0].url).toBe("http://www.example.org/");
        // The first name is canonical, the others redirect to it: it must be a name.
        expect(problemsFor(validValues({ ...off, siteServerNames: '["_", "*.example.org", "www.example.org"]', receiverPublicUrl: "https://hooks.example.org/webhook" }))).toEqual([
            expect.stringMatching(/^selfpages:siteServerNames\[0\]: must be a name, not "_": the first name is the site's canonical name/),
        ]);
        expect(validConfig({ ...off, siteServerNames: '["*.example.org"]', receiverPublicUrl: "https://hooks.example.org/webhook" }).settings.sites[0].url).toBe("http://203.0.113.10/");
        expect(validConfig({ ...off, siteServerNames: '["_"]' }).settings.sites[0].url).toBe("http://203.0.113.10/");
        expect(validConfig({ ...off, siteServerNames: '["_"]', hostAddress: "2001:db8::10" }).settings.sites[0].url).toBe("http://[2001:db8::10]/");
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
        // [] and "" are Pulumi.yaml's defaults of these keys: unset, so required.
        ["siteServerNames", "[]", /is required/],
        ["siteRepository", "", /is required/],
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

    it("requires githubToken", () => {
        const values = validValues();
        delete values.githubToken;
        expect(problemsFor(values)).toEqual(["selfpages:githubToken: is required"]);
    });

    it.each(["hostAddress", "hostKey", "hostPrivateKey"])("requires %s without `servers`, saying that `servers` would do", (key) => {
        const values = validValues();
        delete values[key];
        expect(problemsFor(values)).toEqual([`selfpages:${key}: is required (or list the servers in \`servers\`)`]);
    });

    it.each(["siteRepository", "siteServerNames"])("requires %s without `sites`, saying that `sites` would do", (key) => {
        const values = validValues();
        delete values[key];
        expect(problemsFor(values)).toEqual([`selfpages:${key}: is required (or list the sites in \`sites\`)`]);
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
        // The one-site form's explicit webhook URL is the site's hook URL.
        expect(settings.sites[0].hookUrl).toBe("https://hooks.example.org/webhook");
    });

    describe("tls", () => {
        const pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGVGb3JUZXN0czAKBggqhkjOPQQDAjA=\n-----END CERTIFICATE-----\n";

        it("is on by default: Let's Encrypt production, no HSTS, https URLs, every server name on the certificate", () => {
            const { settings } = validConfig();
            expect(settings.tls).toEqual({ contactEmail: undefined, directoryUrl: letsEncryptProduction, hstsMaxAge: 0, caBundle: undefined });
            expect(settings.sites[0].certificateNames).toEqual(["do-it.example.org", "www.do-it.example.org"]);
            expect(settings.sites[0].url).toBe("https://do-it.example.org/");
            expect(settings.sites[0].hookUrl).toBe("https://do-it.example.org/webhook");
        });

        it("takes the contact, staging directory, HSTS max-age and a CA bundle", () => {
            const { settings } = validConfig({ tlsContactEmail: "web@example.org", tlsAcmeDirectoryUrl: letsEncryptStaging, tlsHstsMaxAge: "31536000", tlsCaBundle: pem });
            expect(settings.tls).toMatchObject({ contactEmail: "web@example.org", directoryUrl: letsEncryptStaging, hstsMaxAge: 31536000, caBundle: pem.trim() });
        });

        it("off: plain HTTP URLs, and catch-all or IP server names are allowed", () => {
            const { settings } = validConfig({ tls: "off", siteServerNames: '["_"]' });
            expect(settings.tls).toBeUndefined();
            expect(settings.sites[0]).not.toHaveProperty("certificateNames");
            expect(settings.sites[0].url).toBe("http://203.0.113.10/");
            expect(settings.sites[0].hookUrl).toBe("http://203.0.113.10/webhook");
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

describe("config: the sites list", () => {
    const pin = "0123456789abcdef0123456789abcdef01234567";
    const threeSites = [
        { name: "main", repository: "assoc/site", serverNames: ["assoc.example.org", "www.assoc.example.org"] },
        { name: "docs", repository: "assoc/docs", branch: "main", parent: "main", path: "docs", keepReleases: 5, pin, secretVersion: 2 },
        { name: "events", repository: "assoc/events", folder: "/docs", serverNames: ["events.example.org"], cloneUrl: "https://git.example.org/assoc/events.git" },
    ];

    /** The fixture's values with `sites` instead of the one-site keys. */
    function sitesValues(sites: unknown[], overrides: Record<string, string> = {}): Record<string, string> {
        const { siteRepository: _repository, siteServerNames: _names, ...values } = validValues();
        return { ...values, sites: JSON.stringify(sites), ...overrides };
    }
    const sitesConfig = (sites: unknown[], overrides: Record<string, string> = {}) => validateConfig("selfpages", sitesValues(sites, overrides), isSecretKey);
    /** `threeSites` with site `i` changed (`undefined` fields removed). */
    const withSite = (i: number, change: Record<string, unknown>) => threeSites.map((site, j) => (j === i ? JSON.parse(JSON.stringify({ ...site, ...change })) : site));

    it("gives each site its URL, hook URL, certificate names and directories", () => {
        const { settings } = sitesConfig(threeSites);
        expect(settings.sites.map((s) => s.name)).toEqual(["main", "docs", "events"]);
        const [main, docs, events] = settings.sites;
        expect(main).toEqual({
            name: "main",
            repository: "assoc/site",
            owner: "assoc",
            repo: "site",
            branch: "gh-pages",
            folder: "",
            cloneUrl: "https://github.com/assoc/site.git",
            serverNames: ["assoc.example.org", "www.assoc.example.org"],
            keepReleases: 3,
            secretVersion: 1,
            url: "https://assoc.example.org/",
            hookUrl: "https://assoc.example.org/webhook",
            hookPath: "/webhook",
            certificateNames: ["assoc.example.org", "www.assoc.example.org"],
            layout: {
                root: "/srv/selfpages/sites/main",
                currentLink: "/srv/selfpages/sites/main/current",
                stateDir: "/var/lib/selfpages/sites/main",
                logDir: "/var/log/selfpages/sites/main",
                syncLog: "/var/log/selfpages/sites/main/sync.log",
                configDir: "/etc/selfpages/sites/main",
                syncConfig: "/etc/selfpages/sites/main/sync.conf",
                deployReportConfig: "/etc/selfpages/sites/main/deploy-report.conf",
                acmeConfig: "/etc/selfpages/sites/main/acme.conf",
                tlsDir: "/etc/selfpages/tls/main",
                tlsCertificate: "/etc/selfpages/tls/main/fullchain.pem",
                tlsKey: "/etc/selfpages/tls/main/privkey.pem",
            },
        });
        // A project site: under its parent's canonical name, with no names and no certificate of its own.
        expect(docs).toMatchObject({ owner: "assoc", repo: "docs", branch: "main", folder: "", serverNames: [], parent: "main", path: "docs", keepReleases: 5, pin, secretVersion: 2 });
        expect(docs.url).toBe("https://assoc.example.org/docs/");
        expect(docs.hookUrl).toBe("https://assoc.example.org/docs/webhook");
        expect(docs).not.toHaveProperty("certificateNames");
        expect(docs.layout.syncConfig).toBe("/etc/selfpages/sites/docs/sync.conf");
        expect(docs.layout.root).toBe("/srv/selfpages/sites/docs");
        // Published from /docs: the folder without its slash.
        expect(events).toMatchObject({ folder: "docs", cloneUrl: "https://git.example.org/assoc/events.git", url: "https://events.example.org/", hookUrl: "https://events.example.org/webhook", certificateNames: ["events.example.org"] });
        expect(events.layout.currentLink).toBe("/srv/selfpages/sites/events/current");
    });

    it("follows tls off and the receiver path in every site's URLs", () => {
        const { settings } = sitesConfig(threeSites, { tls: "off", receiverPath: "/hooks/github" });
        expect(settings.sites.map((s) => [s.url, s.hookUrl])).toEqual([
            ["http://assoc.example.org/", "http://assoc.example.org/hooks/github"],
            ["http://assoc.example.org/docs/", "http://assoc.example.org/docs/hooks/github"],
            ["http://events.example.org/", "http://events.example.org/hooks/github"],
        ]);
        for (const site of settings.sites) expect(site).not.toHaveProperty("certificateNames");
    });

    it("reads an empty list (Pulumi.yaml's default) as unset: the one-site keys make the site", () => {
        const { settings } = validConfig({ sites: "[]" });
        expect(settings.sites.map((s) => [s.name, s.repository, s.url])).toEqual([["selfpages", "do-it-ecm/do-it", "https://do-it.example.org/"]]);
    });

    it("with `sites`, reads the one-site keys' Pulumi.yaml defaults as unset", () => {
        const { settings } = sitesConfig(threeSites, { siteRepository: "", siteServerNames: "[]", siteCloneUrl: "", receiverPublicUrl: "", siteBranch: "gh-pages", siteKeepReleases: "3", webhookSecretVersion: "1" });
        expect(settings.sites.map((s) => s.name)).toEqual(["main", "docs", "events"]);
    });

    it("with neither `sites` nor the one-site keys, says what is missing", () => {
        expect(problemsFor(sitesValues([]))).toEqual(["selfpages:siteRepository: is required (or list the sites in `sites`)", "selfpages:siteServerNames: is required (or list the sites in `sites`)"]);
    });

    it.each<[string, Record<string, string>]>([
        ["siteRepository", { siteRepository: "do-it-ecm/do-it" }],
        ["siteServerNames", { siteServerNames: '["do-it.example.org"]' }],
        ["siteBranch", { siteBranch: "main" }],
        ["siteCloneUrl", { siteCloneUrl: "https://git.example.org/a/b.git" }],
        ["siteKeepReleases", { siteKeepReleases: "5" }],
        ["webhookSecretVersion", { webhookSecretVersion: "2" }],
        ["receiverPublicUrl", { receiverPublicUrl: "https://hooks.example.org/webhook" }],
    ])("refuses the one-site key %s together with `sites`", (key, overrides) => {
        expect(problemsFor(sitesValues(threeSites, overrides))).toEqual([`selfpages:${key}: is for the one-site form; with \`sites\` set, give each site its own settings`]);
    });

    it.each<[string, unknown[], string[]]>([
        ["a server name used by two sites", withSite(2, { serverNames: ["events.example.org", "www.assoc.example.org"] }), ['selfpages:sites[2].serverNames[1]: "www.assoc.example.org" is already a server name of selfpages:sites[0]']],
        ["two project sites at one path under one parent", [...threeSites, { name: "docs2", repository: "assoc/docs2", parent: "main", path: "docs" }], ['selfpages:sites[3].path: /docs/ under "main" is already served by selfpages:sites[1]']],
        ["a parent that does not exist", withSite(1, { parent: "mian" }), ['selfpages:sites[1].parent: no site is named "mian"']],
        ["a parent that is itself under another site", [...threeSites, { name: "deep", repository: "assoc/deep", parent: "docs", path: "deep" }], [expect.stringMatching(/^selfpages:sites\[3\]\.parent: "docs" is itself under another site/)]],
        ["a path without a parent", withSite(1, { parent: undefined }), [expect.stringMatching(/^selfpages:sites\[1\]\.parent: is required with `path`/)]],
        ["a parent without a path", withSite(2, { parent: "main" }), [expect.stringMatching(/^selfpages:sites\[2\]\.parent: goes with `path`/)]],
        ["a path with server names", withSite(1, { serverNames: ["docs.example.org"] }), [expect.stringMatching(/^selfpages:sites\[1\]\.serverNames: a site with a `path` answers under its parent's names/)]],
        ["neither server names nor a path", withSite(2, { serverNames: undefined }), [expect.stringMatching(/^selfpages:sites\[2\]\.serverNames: is required \(or give the site a `parent` and a `path`\)/)]],
        ["two sites of one name", withSite(2, { name: "main" }), ['selfpages:sites[2].name: "main" is already the name of selfpages:sites[0]']],
        ["a wildcard canonical name", withSite(2, { serverNames: ["*.events.example.org"] }), [expect.stringMatching(/^selfpages:sites\[2\]\.serverNames\[0\]: must be a name, not "\*\.events\.example\.org"/), expect.stringMatching(/^selfpages:sites\[2\]\.serverNames\[0\]: must be a DNS name/)]],
        ["a catch-all canonical name", withSite(2, { serverNames: ["_", "events.example.org"] }), [expect.stringMatching(/^selfpages:sites\[2\]\.serverNames\[0\]: must be a name, not "_"/), expect.stringMatching(/^selfpages:sites\[2\]\.serverNames\[0\]: must be a DNS name/)]],
        ["a name that cannot get a certificate", withSite(0, { serverNames: ["assoc.example.org", "198.51.100.7"] }), [expect.stringMatching(/^selfpages:sites\[0\]\.serverNames\[1\]: must be a DNS name .* when tls is acme/)]],
        ["a short pin", withSite(1, { pin: "0123abcd" }), [expect.stringMatching(/^selfpages:sites\[1\]\.pin: must be a full commit id \(40 lowercase hex digits\) \(got "0123abcd"\)$/)]],
        ["an upper-case pin", withSite(1, { pin: pin.toUpperCase() }), [expect.stringMatching(/^selfpages:sites\[1\]\.pin: must be a full commit id/)]],
        ["a folder without its slash", withSite(2, { folder: "docs" }), [expect.stringMatching(/^selfpages:sites\[2\]\.folder: must be '\/' or one folder such as '\/docs'/)]],
        ["a folder two levels deep", withSite(2, { folder: "/docs/site" }), [expect.stringMatching(/^selfpages:sites\[2\]\.folder: must be '\/' or one folder/)]],
        ["the folder /..", withSite(2, { folder: "/.." }), [expect.stringMatching(/^selfpages:sites\[2\]\.folder: must be '\/' or one folder/)]],
        ["a path of two segments", withSite(1, { path: "docs/v2" }), [expect.stringMatching(/^selfpages:sites\[1\]\.path: must be one URL path segment/)]],
        ["a bad site name", withSite(0, { name: "Main" }), [expect.stringMatching(/^selfpages:sites\[0\]\.name: must be 1 to 31 lowercase letters/)]],
        ["no server names", withSite(2, { serverNames: [] }), [expect.stringMatching(/^selfpages:sites\[2\]\.serverNames: must list at least one server name/)]],
        ["a missing repository", withSite(2, { repository: undefined }), ["selfpages:sites[2].repository: is required"]],
        ["a bad repository", withSite(2, { repository: "events" }), [expect.stringMatching(/^selfpages:sites\[2\]\.repository: must be a GitHub repository as owner\/name/)]],
        ["keeping one release", withSite(1, { keepReleases: 1 }), [expect.stringMatching(/^selfpages:sites\[1\]\.keepReleases: must be at least 2/)]],
        ["secret version 0", withSite(1, { secretVersion: 0 }), [expect.stringMatching(/^selfpages:sites\[1\]\.secretVersion: must be at least 1/)]],
        ["an unknown site key", withSite(2, { fodler: "/docs" }), [expect.stringMatching(/^selfpages:sites\[2\]\.fodler: unknown site setting/)]],
    ])("refuses %s, naming the key", (_what, sites, expected) => {
        expect(problemsFor(sitesValues(sites))).toEqual(expected);
    });

    it("refuses a list that is not a list of sites", () => {
        expect(problemsFor(sitesValues([], { sites: "main" }))).toEqual([expect.stringMatching(/^selfpages:sites: /)]);
        expect(problemsFor(sitesValues([], { sites: '["main"]' }))).toEqual([expect.stringMatching(/^selfpages:sites\[0\]: /)]);
    });

    it("lets a wildcard be a later name of one of several sites (tls off)", () => {
        const { settings } = sitesConfig(withSite(2, { serverNames: ["events.example.org", "*.events.example.org"] }), { tls: "off" });
        expect(settings.sites[2]).toMatchObject({ serverNames: ["events.example.org", "*.events.example.org"], url: "http://events.example.org/" });
    });
});
