import { describe, expect, it } from "vitest";
import { allHostFiles } from "../../lib/hostFiles";
import { assocSites, validConfig, validSitesConfig } from "../lib/fixtures";

/** Every file a stack writes to the host, rendered at once: where each goes, its mode and owner, and clean text. */

const expected = {
    alpine: "/etc/nginx/http.d/selfpages.conf",
    debian: "/etc/nginx/conf.d/selfpages.conf",
} as const;
const dailyDir = { alpine: "/etc/periodic/daily", debian: "/etc/cron.daily" } as const;

describe.each(["alpine", "debian"] as const)("allHostFiles (%s)", (osFamily) => {
    const { settings } = validConfig({}, osFamily);
    const files = allHostFiles(settings, { selfpages: ["s1-secret-value", "s2-secret-value"] });
    const bySource = Object.fromEntries(files.map((f) => [f.source, f]));

    it("renders the ten files in the order they reach the host, at the platform's paths", () => {
        expect(files.map((f) => [f.source, f.path])).toEqual([
            ["sync.sh", "/usr/local/lib/selfpages/sync"],
            ["sync.conf", "/etc/selfpages/sites/selfpages/sync.conf"],
            ["acme.conf", "/etc/selfpages/sites/selfpages/acme.conf"],
            ["acme-renew.sh", "/usr/local/lib/selfpages/acme-renew"],
            ["acme-daily", `${dailyDir[osFamily]}/selfpages-acme`],
            ["nginx.conf", expected[osFamily]],
            ["hooks.json", "/etc/selfpages/hooks.json"],
            ["receiver.confd", "/etc/conf.d/selfpages-receiver"],
            ["receiver.initd", "/etc/init.d/selfpages-receiver"],
            ["crontab", "crontab:selfpages"],
        ]);
        // Each platform's nginx path is the directory its stock nginx.conf includes, not the other's.
        expect(bySource["nginx.conf"].path).not.toBe(expected[osFamily === "alpine" ? "debian" : "alpine"]);
    });

    it("gives scripts 0755 root, the nginx config 0644 root, and the secret-bearing files to the service user only", () => {
        const modes = Object.fromEntries(files.map((f) => [f.source, `${f.mode} ${f.owner}:${f.group}`]));
        expect(modes).toEqual({
            "sync.sh": "0755 root:root",
            "sync.conf": "0640 root:selfpages",
            "acme.conf": "0644 root:root",
            "acme-renew.sh": "0755 root:root",
            "acme-daily": "0755 root:root",
            "nginx.conf": "0644 root:root",
            "hooks.json": "0600 selfpages:selfpages",
            "receiver.confd": "0644 root:root",
            "receiver.initd": "0755 root:root",
            crontab: "0600 selfpages:selfpages",
        });
        for (const f of files) expect(f.mode, f.source).toMatch(/^0[0-7]{3}$/);
    });

    it("puts the secrets in the hooks file and nowhere else", () => {
        for (const f of files) {
            const holds = f.content.includes("s1-secret-value") && f.content.includes("s2-secret-value");
            expect(holds, f.source).toBe(f.source === "hooks.json");
            if (f.source !== "hooks.json") expect(f.content, f.source).not.toMatch(/s[12]-secret-value/);
        }
    });

    it("renders clean text: a final newline, no leftover {{, no undefined or [object Object]", () => {
        for (const f of files) {
            expect(f.content.length, f.source).toBeGreaterThan(0);
            expect(f.content.endsWith("\n"), `${f.source} ends with a newline`).toBe(true);
            expect(f.content, f.source).not.toContain("{{");
            expect(f.content, f.source).not.toContain("}}");
            expect(f.content, f.source).not.toMatch(/\bundefined\b/);
            expect(f.content, f.source).not.toContain("[object Object]");
            expect(f.content, f.source).not.toContain("\r");
            // HTML escaping is off: a rendered '&', '<' or '"' must never come out as an entity.
            expect(f.content, f.source).not.toMatch(/&(amp|lt|gt|quot|#x27|#x3D);/);
        }
    });

    it("renders the production nginx config on ports 80 and 443", () => {
        expect(bySource["nginx.conf"].content).toMatch(/^\s*listen 80 default_server;$/m);
        expect(bySource["nginx.conf"].content).toMatch(/^\s*listen \[::\]:80 default_server;$/m);
        // HTTP/2 as the family's nginx takes it: the listen parameter before 1.25.1, the directive from it.
        const http2 = osFamily === "debian" ? /^\s*listen 443 ssl http2 default_server;$/m : /^\s*listen 443 ssl default_server;\n\s*listen \[::\]:443 ssl default_server;\n\s*http2 on;$/m;
        expect(bySource["nginx.conf"].content).toMatch(http2);
    });

    it("with tls off: seven files, the site on port 80, no ACME program, parameters or daily job", () => {
        const plain = allHostFiles(validConfig({ tls: "off" }, osFamily).settings, { selfpages: ["s1"] });
        expect(plain.map((f) => f.source)).toEqual(["sync.sh", "sync.conf", "nginx.conf", "hooks.json", "receiver.confd", "receiver.initd", "crontab"]);
        const nginx = plain.find((f) => f.source === "nginx.conf")?.content ?? "";
        expect(nginx).toMatch(/^\s*listen 80 default_server;$/m);
        expect(nginx).not.toMatch(/ssl|443|acme-challenge/);
    });
});

describe("allHostFiles with deploys reported to GitHub", () => {
    const token = "github_pat_renderAllDeploymentsToken_0123456789";
    const { settings } = validConfig({ githubDeploymentsToken: token });
    const files = allHostFiles(settings, { selfpages: ["s1-secret-value"] }, token);

    it("adds the token's header file (the service account's alone), the reporter's parameters and the reporter before the sync script that calls it", () => {
        expect(files.map((f) => `${f.path} ${f.mode} ${f.owner}:${f.group}`).slice(0, 4)).toEqual([
            "/etc/selfpages/github-deployments.header 0600 selfpages:selfpages",
            "/etc/selfpages/sites/selfpages/deploy-report.conf 0640 root:selfpages",
            "/usr/local/lib/selfpages/deploy-report 0755 root:root",
            "/usr/local/lib/selfpages/sync 0755 root:root",
        ]);
        expect(files[0].content).toBe(`Authorization: Bearer ${token}\n`);
        expect(files.filter((f) => f.content.includes(token)).map((f) => f.path)).toEqual(["/etc/selfpages/github-deployments.header"]);
        // The sync script is the same with or without reporting: it calls the reporter if installed.
        expect(files[3].content).toBe(allHostFiles(validConfig().settings, { selfpages: ["s1-secret-value"] })[0].content);
    });

    it("shows a placeholder, not a token, when rendering without secrets", () => {
        expect(allHostFiles(settings, { selfpages: ["s1"] })[0].content).toBe("Authorization: Bearer <secret:githubDeploymentsToken>\n");
    });
});

describe("allHostFiles for three sites", () => {
    const token = "github_pat_renderAllSitesToken_0123456789";
    const { settings } = validSitesConfig(assocSites, { githubDeploymentsToken: token });
    const files = allHostFiles(settings, { main: ["main-secret-value"], docs: ["docs-secret-value"], events: ["events-secret-value"] }, token);

    it("renders each site's own files in its own directory (a certificate for each site with names), and the shared ones once", () => {
        expect(files.map((f) => [f.source, f.path])).toEqual([
            ["(token header)", "/etc/selfpages/github-deployments.header"],
            ["deploy-report.conf", "/etc/selfpages/sites/main/deploy-report.conf"],
            ["deploy-report.conf", "/etc/selfpages/sites/docs/deploy-report.conf"],
            ["deploy-report.conf", "/etc/selfpages/sites/events/deploy-report.conf"],
            ["deploy-report.sh", "/usr/local/lib/selfpages/deploy-report"],
            ["sync.sh", "/usr/local/lib/selfpages/sync"],
            ["sync.conf", "/etc/selfpages/sites/main/sync.conf"],
            ["sync.conf", "/etc/selfpages/sites/docs/sync.conf"],
            ["sync.conf", "/etc/selfpages/sites/events/sync.conf"],
            ["acme.conf", "/etc/selfpages/sites/main/acme.conf"],
            ["acme.conf", "/etc/selfpages/sites/events/acme.conf"],
            ["acme-renew.sh", "/usr/local/lib/selfpages/acme-renew"],
            ["acme-daily", "/etc/periodic/daily/selfpages-acme"],
            ["nginx.conf", "/etc/nginx/http.d/selfpages.conf"],
            ["hooks.json", "/etc/selfpages/hooks.json"],
            ["receiver.confd", "/etc/conf.d/selfpages-receiver"],
            ["receiver.initd", "/etc/init.d/selfpages-receiver"],
            ["crontab", "crontab:selfpages"],
        ]);
    });

    it("gives each sync.conf its site's repository, folder and directories", () => {
        const confs = files.filter((f) => f.source === "sync.conf").map((f) => f.content);
        expect(confs[0]).toMatch(/^REPOSITORY='assoc\/site'$/m);
        expect(confs[0]).toMatch(/^FOLDER=$/m);
        expect(confs[0]).toMatch(/^SITE_ROOT='\/srv\/selfpages\/sites\/main'$/m);
        expect(confs[1]).toMatch(/^REPOSITORY='assoc\/docs'$/m);
        expect(confs[1]).toMatch(/^STATE_DIR='\/var\/lib\/selfpages\/sites\/docs'$/m);
        expect(confs[1]).toMatch(/^LOG_FILE='\/var\/log\/selfpages\/sites\/docs\/sync.log'$/m);
        expect(confs[2]).toMatch(/^REPOSITORY='assoc\/events'$/m);
        expect(confs[2]).toMatch(/^FOLDER='docs'$/m);
        for (const conf of confs) expect(conf).toMatch(/^PIN=$/m);
    });

    it("puts each site's secret in the hooks file only, and the token in its header file only", () => {
        for (const f of files) {
            for (const secret of ["main-secret-value", "docs-secret-value", "events-secret-value"]) expect(f.content.includes(secret), `${f.source} ${f.path} ${secret}`).toBe(f.source === "hooks.json");
            expect(f.content.includes(token), f.path).toBe(f.source === "(token header)");
        }
    });

    it("renders clean text", () => {
        for (const f of files) {
            expect(f.content.endsWith("\n"), f.path).toBe(true);
            expect(f.content, f.path).not.toMatch(/\{\{|\}\}|\bundefined\b|\[object Object\]/);
        }
    });
});
