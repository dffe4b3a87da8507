import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { StaticSiteServer } from "../../components";
import { hooksFile } from "../../lib/hostFiles";
import { testPrivateKey, testToken, validConfig } from "../lib/fixtures";
import { githubWebhookType, isSecretValue, mockSecret, randomPasswordType, registerUnderMocks, remoteCommandType, type Registered } from "./harness";

async function declare(overrides: Record<string, string> = {}, os: "alpine" | "debian" = "alpine", commandStdout: Record<string, string> = {}): Promise<Registered[]> {
    const { settings, secrets } = validConfig(overrides, os);
    return registerUnderMocks(() => {
        new StaticSiteServer("selfpages", {
            settings,
            hostPrivateKey: pulumi.secret(secrets.hostPrivateKey),
            githubToken: pulumi.secret(secrets.githubToken),
        });
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
    it("declares one component per server concern and the resources inside them", async () => {
        const resources = await declare();
        const components = resources.filter((r) => r.type.startsWith("selfpages:")).map((r) => `${r.type} ${r.name}`);
        expect(components.sort()).toEqual([
            "selfpages:index:StaticSiteServer selfpages",
            "selfpages:connection:HostConnection selfpages-host",
            "selfpages:packages:Packages selfpages-packages",
            "selfpages:account:ServiceAccount selfpages-account",
            "selfpages:directories:HostDirectories selfpages-directories",
            "selfpages:site:SyncProgram selfpages-sync",
            "selfpages:site:Site selfpages-site",
            "selfpages:receiver:Receiver selfpages-receiver",
            "selfpages:nginx:Nginx selfpages-nginx",
            "selfpages:cron:FallbackCron selfpages-cron",
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
                "selfpages-receiver-reload",
                "selfpages-receiver-retire-previous-secret",
                "selfpages-nginx-park-default-site",
                "selfpages-nginx-site-config",
                "selfpages-nginx-service",
                "selfpages-nginx-reload",
                "selfpages-cron-daemon",
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
        expect([...dependsOnTransitively(resources, "selfpages-nginx-reload")]).toEqual(expect.arrayContaining(["selfpages-nginx-service", "selfpages-nginx-site-config", "selfpages-site-first-deploy"]));
        expect([...dependsOnTransitively(resources, "selfpages-receiver-service")]).toEqual(expect.arrayContaining(["selfpages-receiver-hooks", "selfpages-receiver-openrc-conf", "selfpages-receiver-openrc-service", "selfpages-site-first-deploy"]));
        // GitHub gets the (new) secret only once the receiver accepts it and nginx routes to it.
        expect([...dependsOnTransitively(resources, "selfpages-github-webhook")]).toEqual(expect.arrayContaining(["selfpages-receiver-reload", "selfpages-nginx-reload"]));
        // The 443 block needs a certificate (the placeholder) before nginx loads it; the issuance
        // needs nginx answering the challenge; GitHub's hook needs the issued certificate.
        expect(dependsOnTransitively(resources, "selfpages-nginx-site-config")).toContain("selfpages-certificate-placeholder");
        expect([...dependsOnTransitively(resources, "selfpages-certificate-issue")]).toEqual(expect.arrayContaining(["selfpages-nginx-reload", "selfpages-tls-renew-script", "selfpages-certificate-renew-config", "selfpages-certificate-placeholder"]));
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
        expect(crontab.create).toBe("crontab -u selfpages -");
        expect(crontab.delete).toMatch(/crontab -u selfpages -r/);
    });

    it("changes triggers only when the content they stand for changes", async () => {
        const triggers = (resources: Registered[]) => Object.fromEntries(commands(resources).map((c) => [c.name, JSON.stringify(c.inputs.triggers ?? null)]));
        const first = triggers(await declare());
        expect(triggers(await declare())).toEqual(first);

        const renamed = triggers(await declare({ siteServerNames: '["other.example.org"]' }));
        const changed = Object.keys(first).filter((name) => first[name] !== renamed[name]);
        // A new name: a reload for the config, and a certificate naming it.
        expect(changed.sort()).toEqual(["selfpages-certificate-issue", "selfpages-nginx-reload"]);

        const rescheduled = triggers(await declare({ syncSchedule: "*/5 * * * *" }));
        expect(Object.keys(first).filter((name) => first[name] !== rescheduled[name])).toEqual([]);

        const rotated = await declare({ webhookSecretVersion: "2" });
        const rotatedTriggers = triggers(rotated);
        expect(Object.keys(first).filter((name) => first[name] !== rotatedTriggers[name]).sort()).toEqual(["selfpages-receiver-accepted-secrets", "selfpages-receiver-reload", "selfpages-receiver-retire-previous-secret"]);
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
            const sites = [
                { name: "main", repository: "assoc/site", serverNames: ["assoc.example.org"] },
                { name: "docs", repository: "assoc/docs", parent: "main", path: "docs" },
            ];
            const { settings } = validConfig({ sites: JSON.stringify(sites), siteRepository: "", siteServerNames: "[]" });
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
        expect(byName(resources, "selfpages-cron-daemon").inputs.create).toMatch(/rc-update add cron default/);
        expect(byName(resources, "selfpages-packages-install").inputs.create).toMatch(/apt-get install/);
        expect(byName(resources, "selfpages-account-user").inputs.create).toMatch(/useradd --system/);
    });
});
