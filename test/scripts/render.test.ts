import { execFileSync, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { receiverGoMemLimit, receiverServiceIdentity } from "../../lib/hostFiles";
import { repoRoot } from "../lib/fixtures";

const out = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-render-"));
const tsx = path.join(repoRoot, "node_modules", ".bin", "tsx");

describe("npm run render", () => {
    afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

    it("writes every file for the prod stack with a manifest of modes and owners", () => {
        execFileSync(tsx, [path.join(repoRoot, "scripts", "render.ts"), "--stack", "prod", "--out", out], { encoding: "utf8" });
        const manifest = JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8")) as Array<{ path: string; mode: string; renderedTo: string }>;
        expect(manifest.map((m) => m.path)).toEqual([
            "/usr/local/lib/selfpages/sync",
            "/etc/selfpages/sites/selfpages/sync.conf",
            "/etc/selfpages/sites/docs/sync.conf",
            "/etc/selfpages/sites/gala/sync.conf",
            "/etc/selfpages/sites/selfpages/acme.conf",
            "/etc/selfpages/sites/gala/acme.conf",
            "/usr/local/lib/selfpages/acme-renew",
            "/etc/periodic/daily/selfpages-acme",
            "/etc/nginx/http.d/selfpages.conf",
            "/etc/selfpages/hooks.json",
            "/etc/conf.d/selfpages-receiver",
            "/etc/init.d/selfpages-receiver",
            "crontab:selfpages",
        ]);
        for (const file of manifest) expect(fs.statSync(path.join(out, file.renderedTo)).size).toBeGreaterThan(0);
        const hooks = fs.readFileSync(path.join(out, "etc/selfpages/hooks.json"), "utf8");
        for (const site of ["selfpages", "docs", "gala"]) expect(hooks).toContain(`<secret:webhook-${site}-v1>`);
        expect(fs.readFileSync(path.join(out, "etc/nginx/http.d/selfpages.conf"), "utf8")).toContain("server_name do-it.example.org;");
        // The receiver's service step is triggered by this file's hash, its memory limit written as
        // 8MiB (receiverServiceIdentity): the previous release (d1234f7) rendered exactly these bytes
        // for this stack, and a different file would replace the step, restarting the receiver on
        // every stack's next up (issue 17). Its readiness wait is in conf.d.
        const definition = fs.readFileSync(path.join(out, "etc/init.d/selfpages-receiver"), "utf8");
        expect(definition).toContain(`GOMEMLIMIT=${receiverGoMemLimit}`);
        expect(crypto.createHash("sha256").update(receiverServiceIdentity(definition)).digest("hex")).toBe("6f7a3229598e615e177820de9379b9dd50c4267d026f15bbad65a2fa6ba3bdbf");
    });

    it("rejects a bad stack config naming the field, writing nothing", () => {
        const stackFile = path.join(repoRoot, "Pulumi.render-test-bad.yaml");
        fs.writeFileSync(stackFile, "config:\n  selfpages:hostAddress: vm.example.org\n  selfpages:hostKey: ssh-ed25519 AAAA\n  selfpages:siteRepository: nope\n  selfpages:siteServerNames: [a.example.org]\n");
        const target = path.join(out, "bad");
        try {
            const result = spawnSync(tsx, [path.join(repoRoot, "scripts", "render.ts"), "--stack", "render-test-bad", "--out", target], { encoding: "utf8" });
            expect(result.status).toBe(1);
            expect(result.stderr).toMatch(/selfpages:siteRepository: must be a GitHub repository as owner\/name/);
            expect(fs.existsSync(target)).toBe(false);
        } finally {
            fs.rmSync(stackFile, { force: true });
        }
    });
});
