import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { declareFleet } from "../../components";
import { hooksFile } from "../../lib/hostFiles";
import { assocSites, sitesValues, testPrivateKey, testToken, validConfig, validSitesConfig } from "../lib/fixtures";
import { githubWebhookType, isSecretValue, mockSecret, randomPasswordType, registerUnderMocks, remoteCommandType, type Registered } from "./harness";

async function declare(overrides: Record<string, string> = {}, os: "alpine" | "debian" = "alpine", commandStdout: Record<string, string> = {}): Promise<Registered[]> {
    const { settings, secrets } = validConfig(overrides, os);
    return registerUnderMocks(() => {
        declareFleet({ settings, secrets });
    }, commandStdout);
}

const byName = (resources: Registered[], name: string): Registered => {
    const found = resources.find((r) => r.name === name);
    if (!found) throw new Error(`no resource ${name}; have ${resources.map((r) => r.name).join(", ")}`);
    return found;
};

/** Every resource `name` depends on, directly or through its parents' dependencies. */
function dependsOnTransitively(resources: Registered[], name: string): Set<string> {
    // Names are unique in this program, and a URN ends with the name.
    const byUrn = new Map(resources.map((r) => [r.name, r]));
    const seen = new Set<string>();
    const visit = (r: Registered | undefined) => {
        if (!r) return;
        for (const urn of r.dependencies) {
            const dep = byUrn.get(urn.split("::").pop() ?? "");
            if (dep && !seen.has(dep.name)) {
                seen.add(dep.name);
                visit(dep);
            }
        }
    };
    visit(byName(resources, name));
    return seen;
}

const commands = (resources: Registered[]) => resources.filter((r) => r.type === remoteCommandType);

describe("StaticSiteServer under mocks", () => {
    it("declares one component per server concern of several steps, and the resources inside them", async () => {
        const resources = await declare();
        const components = resources.filter((r) => r.type.startsWith("selfpages:")).map((r) => `${r.type} ${r.name}`);
        expect(components.sort()).toEqual([
            "selfpages:index:StaticSiteServer selfpages",
            // The webhook secrets and GitHub hooks: the stack's, shared by every server.
            "selfpages:webhooks:SiteWebhooks selfpages-webhooks",
            "selfpages:site:Site selfpages-site",
            "selfpages:receiver:Receiver selfpages-receiver",
            "selfpages:nginx:Nginx selfpages-nginx",
            // The host's ACME client keeps the type of the one certificate of earlier releases.
            "selfpages:tls:Certificate selfpages-tls",
            "selfpages:tls:SiteCertificate selfpages-certificate",
        ].sort());
        expect(commands(resources).map((r) => r.name).sort()).toEqual(
            [
                "selfpages-host-ready",
                "selfpages-packages-install",
                "selfpages-account-user",
                "selfpages-directories-install",
                "selfpages-sync-program",
                "selfpages-site-own-directories",
                "selfpages-site-sync-config",
                "selfpages-site-first-deploy",
                "selfpages-receiver-accepted-secrets",
                "selfpages-receiver-hooks",
                "selfpages-receiver-openrc-conf",
                "selfpages-receiver-openrc-service",
                "selfpages-receiver-service",
                "selfpages-receiver-retire-previous-secret",
                "selfpages-nginx-park-default-site",
                "selfpages-nginx-site-config",
                "selfpages-nginx-service",
                "selfpages-cron-crontab",
                "selfpages-tls-cleanup",
                "selfpages-tls-renew-script",
                "selfpages-tls-renewal-job",
                "selfpages-certificate-renew-config",
                "selfpages-certificate-placeholder",
                "selfpages-certificate-issue",
            ].sort(),
        );
        expect(resources.filter((r) => r.type === randomPasswordType).map((r) => r.name)).toEqual(["selfpages-receiver-secret-v1"]);
        expect(resources.filter((r) => r.type === githubWebhookType).map((r) => r.name)).toEqual(["selfpages-github-webhook"]);
    });

    it("keeps the single steps of a concern under the server, where releases before kept them in a component of their own (aliases)", async () => {
        const resources = await declare();
        const server = "urn:pulumi:unit::selfpages::selfpages:index:StaticSiteServer::selfpages";
        const former = (type: string, name: string) => `urn:pulumi:unit::selfpages::selfpages:index:StaticSiteServer$${type}::${name}`;
        for (const [step, type, component] of [
            ["selfpages-host-ready", "selfpages:connection:HostConnection", "selfpages-host"],
            ["selfpages-packages-install", "selfpages:packages:Packages", "selfpages-packages"],
            ["selfpages-account-user", "selfpages:account:ServiceAccount", "selfpages-account"],
            ["selfpages-directories-install", "selfpages:directories:HostDirectories", "selfpages-directories"],
            ["selfpages-sync-program", "selfpages:site:SyncProgram", "selfpages-sync"],
            ["selfpages-cron-crontab", "selfpages:cron:FallbackCron", "selfpages-cron"],
        ]) {
            const registered = byName(resources, step);
            expect(registered.parent, step).toBe(server);
            expect(registered.aliasParents, step).toContain(former(type, component));
        }
        // And the two that the first releases kept under the site.
        for (const step of ["selfpages-directories-install", "selfpages-sync-program"]) expect(byName(resources, step).aliasParents).toContain(former("selfpages:site:Site", "selfpages-site"));
    });

    it("registers each name once, and nothing but components, host steps, the secret and the GitHub hook", async () => {
        const resources = await declare();
        const names = resources.map((r) => r.name);
        expect(new Set(names).size).toBe(names.length);
        const kinds = new Set(resources.map((r) => (r.type.startsWith("selfpages:") ? "component" : r.type)));
        expect([...kinds].sort()).toEqual(["component", githubWebhookType, randomPasswordType, remoteCommandType].sort());
    });

    it("orders the work: host check, packages, account, site, then services, then the GitHub hook", async () => {
        const resources = await declare();
        for (const command of commands(resources).filter((c) => c.name !== "selfpages-host-ready")) {
            expect(dependsOnTransitively(resources, command.name), command.name).toContain("selfpages-host-ready");
        }
        expect(dependsOnTransitively(resources, "selfpages-account-user")).toContain("selfpages-packages-install");
        expect(dependsOnTransitively(resources, "selfpages-site-first-deploy")).toContain("selfpages-sync-program");
        expect(dependsOnTransitively(resources, "selfpages-site-first-deploy")).toContain("selfpages-site-sync-config");
        expect(dependsOnTransitively(resources, "selfpages-sync-program")).toContain("selfpages-account-user");
        // The site's files go into its own directories, made before them.
        expect(dependsOnTransitively(resources, "selfpages-site-sync-config")).toContain("selfpages-site-own-directories");
        expect(dependsOnTransitively(resources, "selfpages-site-own-directories")).toContain("selfpages-directories-install");
        // Every file goes into a directory made before it, by the one step that makes them all.
        expect(dependsOnTransitively(resources, "selfpages-directories-install")).toContain("selfpages-account-user");
        for (const command of commands(resources).filter((c) => /-(script|program|config|hooks|placeholder|renewal-job)$/.test(c.name))) {
            expect(dependsOnTransitively(resources, command.name), command.name).toContain("selfpages-directories-install");
        }
        expect([...dependsOnTransitively(resources, "selfpages-nginx-service")]).toEqual(expect.arrayContaining(["selfpages-nginx-site-config", "selfpages-site-first-deploy"]));
        expect([...dependsOnTransitively(resources, "selfpages-receiver-service")]).toEqual(expect.arrayContaining(["selfpages-receiver-hooks", "selfpages-receiver-openrc-conf", "selfpages-receiver-openrc-service", "selfpages-site-first-deploy"]));
        // GitHub gets the (new) secret only once the receiver accepts it and nginx routes to it.
        expect([...dependsOnTransitively(resources, "selfpages-github-webhook")]).toEqual(expect.arrayContaining(["selfpages-receiver-service", "selfpages-nginx-service"]));
        // The 443 block needs a certificate (the placeholder) before nginx loads it; the issuance
        // needs nginx answering the challenge; GitHub's hook needs the issued certificate.
        expect(dependsOnTransitively(resources, "selfpages-nginx-site-config")).toContain("selfpages-certificate-placeholder");
        expect([...dependsOnTransitively(resources, "selfpages-certificate-issue")]).toEqual(expect.arrayContaining(["selfpages-nginx-service", "selfpages-tls-renew-script", "selfpages-certificate-renew-config", "selfpages-certificate-placeholder"]));
        expect(dependsOnTransitively(resources, "selfpages-github-webhook")).toContain("selfpages-certificate-issue");
        // The previous secret is dropped only after GitHub switched.
        expect(dependsOnTransitively(resources, "selfpages-receiver-retire-previous-secret")).toContain("selfpages-github-webhook");
    });

    it("writes files with content on stdin, atomically, and removes them on destroy", async () => {
        const resources = await declare();
        const nginxConfig = byName(resources, "selfpages-nginx-site-config").inputs;
        expect(nginxConfig.create).toMatch(/mktemp/);
        expect(nginxConfig.create).toMatch(/mv -f "\$tmp" "\$target"/);
        expect(nginxConfig.create).toMatch(/nginx -t -q/);
        expect(nginxConfig.delete).toBe("rm -f '/etc/nginx/http.d/selfpages.conf'");
        expect(String(nginxConfig.stdin)).toMatch(/gzip_static on;/);
        const hooks = byName(resources, "selfpages-receiver-hooks").inputs;
        expect(hooks.create).toMatch(/chmod 0600/);
        expect(hooks.create).toMatch(/chown 'selfpages:selfpages'/);
        const crontab = byName(resources, "selfpages-cron-crontab").inputs;
        // The daemon enabled and running, then the whole crontab replaced; only crontab reads stdin.
        expect(crontab.create).toMatch(/^set -eu\n\{\nrc-update add crond default >\/dev\/null\n[^]*\n\} <\/dev\/null\ncrontab -u selfpages -$/);
        expect(crontab.delete).toMatch(/crontab -u selfpages -r/);
    });

    it("changes triggers only when the content they stand for changes", async () => {
        const triggers = (resources: Registered[]) => Object.fromEntries(commands(resources).map((c) => [c.name, JSON.stringify(c.inputs.triggers ?? null)]));
        const first = triggers(await declare());
        expect(triggers(await declare())).toEqual(first);

        const renamed = triggers(await declare({ siteServerNames: '["other.example.org"]' }));
        const changed = Object.keys(first).filter((name) => first[name] !== renamed[name]);
        // A new name: a reload for the config (its step replaced: it has nothing to undo), and a certificate naming it.
        expect(changed.sort()).toEqual(["selfpages-certificate-issue", "selfpages-nginx-service"]);

        const rescheduled = triggers(await declare({ syncSchedule: "*/5 * * * *" }));
        expect(Object.keys(first).filter((name) => first[name] !== rescheduled[name])).toEqual([]);

        const rotated = await declare({ webhookSecretVersion: "2" });
        const rotatedTriggers = triggers(rotated);
        expect(Object.keys(first).filter((name) => first[name] !== rotatedTriggers[name]).sort()).toEqual(["selfpages-receiver-accepted-secrets", "selfpages-receiver-retire-previous-secret"]);
        // The receiver applies the new hooks file by an update of its service step (a reload), never
        // a replacement (a stop and a start): its update script names the file's hash.
        const update = (resources: Registered[]) => String(byName(resources, "selfpages-receiver-service").inputs.update);
        expect(update(rotated)).not.toBe(update(await declare()));
        expect(update(rotated)).toMatch(/^set -eu\n# the hooks file: sha256 [0-9a-f]{64}\nrc-update add selfpages-receiver default/);
        expect(update(rotated)).toContain("rc-service selfpages-receiver reload\nsleep 1\n");
        // Created while a receiver runs (a host set up by 0.1), it reloads that receiver too: the
        // hooks file it reads is the transitional one before GitHub switches.
        const create = String(byName(rotated, "selfpages-receiver-service").inputs.create);
        expect(create).toMatch(/^set -eu\nrc-update add selfpages-receiver default >\/dev\/null\nif rc-service selfpages-receiver status >\/dev\/null 2>&1; then\nrc-service selfpages-receiver reload\nsleep 1\n/);
        expect(create).toContain("\nelse\nrc-service selfpages-receiver start\nfi");
    });

    it("accepts the new secret and the ones the host accepted until GitHub switched, then only the new one", async () => {
        const hostSecret = "secretreadfromthehost0123456789";
        // The host's hooks file, read by the step: "HOOK-ID SECRET" a line.
        const resources = await declare({ webhookSecretVersion: "3" }, "alpine", { "selfpages-receiver-accepted-secrets": `selfpages ${hostSecret}\n` });
        const passwords = resources.filter((r) => r.type === randomPasswordType);
        expect(passwords.map((p) => [p.name, p.inputs.keepers, p.inputs.length, p.inputs.special])).toEqual([["selfpages-receiver-secret-v3", { version: "3" }, 48, false]]);
        const accepted = byName(resources, "selfpages-receiver-accepted-secrets");
        expect(accepted.inputs.create).toContain("'/etc/selfpages/hooks.json'");
        expect(accepted.inputs.logging).toBe("none");
        const hooks = String(byName(resources, "selfpages-receiver-hooks").inputs.stdin);
        expect(hooks).toContain(mockSecret("selfpages-receiver-secret-v3"));
        expect(hooks).toContain(hostSecret);
        const retire = byName(resources, "selfpages-receiver-retire-previous-secret").inputs;
        expect(String(retire.stdin)).toContain(mockSecret("selfpages-receiver-secret-v3"));
        expect(String(retire.stdin)).not.toContain(hostSecret);
        expect(retire.create).toMatch(/^sleep 11/);
        expect(byName(resources, "selfpages-github-webhook").inputs.secret).toBe(mockSecret("selfpages-receiver-secret-v3"));
        // The host read comes before the hooks file that carries its result.
        expect(dependsOnTransitively(resources, "selfpages-receiver-hooks")).toContain("selfpages-receiver-accepted-secrets");
    });

    it("reads the secrets each hook accepts from a hooks file as the receiver has it (two sites, one rotating), and nothing from a fresh host", async () => {
        const resources = await declare();
        const script = String(byName(resources, "selfpages-receiver-accepted-secrets").inputs.create);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-accepted-"));
        try {
            const hooksPath = path.join(dir, "hooks.json");
            const onHost = script.replaceAll("'/etc/selfpages/hooks.json'", `'${hooksPath}'`);
            expect(onHost).not.toBe(script);
            expect(execFileSync("sh", ["-c", onHost], { encoding: "utf8" })).toBe("");
            const { settings } = validSitesConfig(assocSites.slice(0, 2));
            fs.writeFileSync(hooksPath, hooksFile(settings, { main: ["mainNew0123", "mainOld4567"], docs: ["docsOnly89ab"] }).content);
            expect(execFileSync("sh", ["-c", onHost], { encoding: "utf8" })).toBe("main mainNew0123\nmain mainOld4567\ndocs docsOnly89ab\n");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("waits for nothing when the host accepts only the current secret", async () => {
        const resources = await declare({}, "alpine", { "selfpages-receiver-accepted-secrets": `selfpages ${mockSecret("selfpages-receiver-secret-v1")}\n` });
        const retire = byName(resources, "selfpages-receiver-retire-previous-secret").inputs;
        expect(retire.create).not.toMatch(/sleep/);
        expect(byName(resources, "selfpages-receiver-hooks").inputs.stdin).toBe(retire.stdin);
    });

    it("marks every secret as secret and never puts one in a command line or a plain input", async () => {
        const hostSecret = "secretreadfromthehost0123456789";
        const resources = await declare({ webhookSecretVersion: "2" }, "alpine", { "selfpages-receiver-accepted-secrets": `selfpages ${hostSecret}` });
        const secrets = [testPrivateKey.split("\n")[1], testToken, mockSecret("selfpages-receiver-secret-v2"), hostSecret];
        for (const resource of resources) {
            for (const [key, value] of Object.entries(resource.wire)) {
                // The serialized provider code is checked too: it must not have captured a secret.
                const text = JSON.stringify(value);
                if (isSecretValue(value)) continue;
                for (const secret of secrets) expect(text, `${resource.name}.${key}`).not.toContain(secret);
            }
        }
        expect(isSecretValue(byName(resources, "selfpages-receiver-hooks").wire.stdin)).toBe(true);
        expect(isSecretValue(byName(resources, "selfpages-receiver-retire-previous-secret").wire.stdin)).toBe(true);
        expect(isSecretValue(byName(resources, "selfpages-host-ready").wire.connection)).toBe(true);
        for (const command of commands(resources)) expect(isSecretValue(command.wire.connection), command.name).toBe(true);
        const hook = byName(resources, "selfpages-github-webhook").wire;
        expect(isSecretValue(hook.secret)).toBe(true);
        expect(isSecretValue(hook.token)).toBe(true);
    });

    it("uses the Debian paths and services when os is debian", async () => {
        const resources = await declare({}, "debian");
        expect(byName(resources, "selfpages-nginx-site-config").inputs.delete).toBe("rm -f '/etc/nginx/conf.d/selfpages.conf'");
        expect(byName(resources, "selfpages-cron-crontab").inputs.create).toMatch(/rc-update add cron default/);
        expect(byName(resources, "selfpages-packages-install").inputs.create).toMatch(/apt-get install/);
        expect(byName(resources, "selfpages-account-user").inputs.create).toMatch(/useradd --system/);
    });
});

describe("StaticSiteServer with three sites, under mocks", () => {
    // The docs site's secret is at its second version.
    const sites = assocSites.map((site) => (site.name === "docs" ? { ...site, secretVersion: 2 } : site));
    const values = sitesValues(sites);
    const names = ["main", "docs", "events"];

    it("gives each site its component, files, first deploy, secret and GitHub hook; a certificate to each site with names", async () => {
        const resources = await declare(values);
        expect(resources.filter((r) => r.type === "selfpages:site:Site").map((r) => r.name)).toEqual(names.map((n) => `${n}-site`));
        expect(resources.filter((r) => r.type === "selfpages:tls:SiteCertificate").map((r) => r.name)).toEqual(["main-certificate", "events-certificate"]);
        expect(resources.filter((r) => r.type === randomPasswordType).map((r) => r.name)).toEqual(["main-receiver-secret-v1", "docs-receiver-secret-v2", "events-receiver-secret-v1"]);
        // One of each shared step.
        for (const shared of ["selfpages-sync-program", "selfpages-receiver-hooks", "selfpages-nginx-site-config", "selfpages-cron-crontab", "selfpages-tls-renewal-job"]) expect(resources.filter((r) => r.name === shared), shared).toHaveLength(1);
        for (const name of names) {
            const deploy = byName(resources, `${name}-site-first-deploy`).inputs;
            expect(deploy.create).toBe(`su -s /bin/sh selfpages -c '/usr/local/lib/selfpages/sync --conf /etc/selfpages/sites/${name}/sync.conf manual'`);
            expect(byName(resources, `${name}-site-sync-config`).inputs.create).toContain(`target='/etc/selfpages/sites/${name}/sync.conf'`);
            expect(dependsOnTransitively(resources, `${name}-site-first-deploy`)).toContain("selfpages-sync-program");
        }
        expect(String(byName(resources, "events-site-sync-config").inputs.stdin)).toMatch(/^FOLDER='docs'$/m);
        const hooks = resources.filter((r) => r.type === githubWebhookType);
        expect(hooks.map((h) => [h.name, h.inputs.owner, h.inputs.repo, h.inputs.url, h.inputs.secret])).toEqual([
            ["main-github-webhook", "assoc", "site", "https://assoc.example.org/webhook", mockSecret("main-receiver-secret-v1")],
            ["docs-github-webhook", "assoc", "docs", "https://assoc.example.org/docs/webhook", mockSecret("docs-receiver-secret-v2")],
            ["events-github-webhook", "assoc", "events", "https://events.example.org/webhook", mockSecret("events-receiver-secret-v1")],
        ]);
        // Each GitHub hook waits for the receiver, nginx and every certificate; the retirement for every hook.
        for (const hook of hooks) expect([...dependsOnTransitively(resources, hook.name)]).toEqual(expect.arrayContaining(["selfpages-receiver-service", "selfpages-nginx-service", "main-certificate-issue", "events-certificate-issue"]));
        expect([...dependsOnTransitively(resources, "selfpages-receiver-retire-previous-secret")]).toEqual(expect.arrayContaining(hooks.map((h) => h.name)));
        // The certificates are issued one after the other (one uacme account, one nginx), after nginx loaded their placeholders.
        expect(dependsOnTransitively(resources, "events-certificate-issue")).toContain("main-certificate-issue");
        expect([...dependsOnTransitively(resources, "selfpages-nginx-site-config")]).toEqual(expect.arrayContaining(["main-certificate-placeholder", "events-certificate-placeholder"]));
        expect(String(byName(resources, "selfpages-cron-crontab").inputs.stdin).match(/--conf \/etc\/selfpages\/sites\/\w+\/sync\.conf cron/g)).toHaveLength(3);
    });

    it("keeps, while one site rotates, the secrets each hook accepted on the host for that hook only", async () => {
        const resources = await declare(values, "alpine", { "selfpages-receiver-accepted-secrets": "main mainOnHost0123\ndocs docsPrevious4567\n" });
        const secretsOf = (content: unknown) => Object.fromEntries((JSON.parse(String(content)) as Array<{ id: string; "trigger-rule": { or: Array<{ match: { secret: string } }> } }>).map((h) => [h.id, h["trigger-rule"].or.map((m) => m.match.secret)]));
        expect(secretsOf(byName(resources, "selfpages-receiver-hooks").inputs.stdin)).toEqual({
            main: [mockSecret("main-receiver-secret-v1"), "mainOnHost0123"],
            docs: [mockSecret("docs-receiver-secret-v2"), "docsPrevious4567"],
            events: [mockSecret("events-receiver-secret-v1")],
        });
        const retire = byName(resources, "selfpages-receiver-retire-previous-secret").inputs;
        expect(retire.create).toMatch(/^sleep 11/);
        expect(secretsOf(retire.stdin)).toEqual({ main: [mockSecret("main-receiver-secret-v1")], docs: [mockSecret("docs-receiver-secret-v2")], events: [mockSecret("events-receiver-secret-v1")] });
    });

    it("changes only the rotated site's secret and the receiver's steps when one site's secretVersion is bumped", async () => {
        const triggers = (resources: Registered[]) => Object.fromEntries(commands(resources).map((c) => [c.name, JSON.stringify(c.inputs.triggers ?? null)]));
        const before = await declare(values);
        const bumped = await declare({ ...values, sites: JSON.stringify(sites.map((s) => (s.name === "events" ? { ...s, secretVersion: 2 } : s))) });
        const [a, b] = [triggers(before), triggers(bumped)];
        expect(Object.keys(a).filter((name) => a[name] !== b[name]).sort()).toEqual(["selfpages-receiver-accepted-secrets", "selfpages-receiver-retire-previous-secret"]);
        const update = (resources: Registered[]) => String(byName(resources, "selfpages-receiver-service").inputs.update);
        expect(update(bumped)).not.toBe(update(before));
        expect(bumped.filter((r) => r.type === randomPasswordType).map((r) => r.name)).toEqual(["main-receiver-secret-v1", "docs-receiver-secret-v2", "events-receiver-secret-v2"]);
    });

    it("keeps a site's directories step (whose replacement empties them) when only TLS is switched", async () => {
        const triggersOf = (resources: Registered[], name: string) => JSON.stringify(byName(resources, name).inputs.triggers);
        const on = await declare(values);
        const off = await declare({ ...values, tls: "off" });
        for (const name of names) expect(triggersOf(off, `${name}-site-own-directories`), name).toBe(triggersOf(on, `${name}-site-own-directories`));
        // The step's script (run again on an update) makes the certificate's directory only with TLS, for a site with names.
        expect(byName(on, "main-site-own-directories").inputs.create).toContain("install -d -o root -g root -m 0700 '/etc/selfpages/tls/main'");
        expect(byName(on, "docs-site-own-directories").inputs.create).not.toContain("/etc/selfpages/tls/");
        expect(byName(off, "main-site-own-directories").inputs.create).not.toContain("/etc/selfpages/tls/");
    });
});
