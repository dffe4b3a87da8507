import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../lib/fixtures";

const actionlint = path.join(process.env.SELFPAGES_CACHE ?? path.join(os.homedir(), ".cache", "selfpages"), "tools", "actionlint-v1.7.7", "actionlint");
const workflowsDir = path.join(repoRoot, ".github", "workflows");
const workflow = (name: string) => parse(fs.readFileSync(path.join(workflowsDir, name), "utf8")) as {
    on: Record<string, unknown>;
    jobs: Record<string, { steps: Array<{ uses?: string; run?: string; with?: Record<string, unknown> }> }>;
};

describe("GitHub workflows", () => {
    it("pass actionlint (with shellcheck on run steps)", () => {
        // Installed by scripts/ensure-deps.sh, which every npm test script runs first.
        expect(fs.existsSync(actionlint), `${actionlint} missing: run scripts/ensure-deps.sh --unit`).toBe(true);
        const files = fs.readdirSync(workflowsDir).map((f) => path.join(workflowsDir, f));
        expect(files.length).toBe(2);
        execFileSync(actionlint, ["-color=false", ...files], { encoding: "utf8" });
    });

    it("preview posts the plan on pull requests; up runs on pushes to main, one at a time; both through npm run pulumi", () => {
        type Step = { uses?: string; run?: string; with?: Record<string, unknown> };
        const steps = (file: string) => Object.values(workflow(file).jobs)[0].steps as Step[];
        const runs = (file: string) => steps(file).flatMap((s) => (s.run ? [s.run] : []));

        const preview = workflow("preview.yml");
        expect(Object.keys(preview.on)).toEqual(["pull_request"]);
        expect(runs("preview.yml").some((r) => /^npm run -s pulumi -- preview --stack prod\b/.test(r))).toBe(true);
        expect(runs("preview.yml").some((r) => r.includes("gh pr comment"))).toBe(true);

        const deploy = workflow("deploy.yml") as ReturnType<typeof workflow> & { concurrency: { "cancel-in-progress": boolean } };
        expect(deploy.on).toMatchObject({ push: { branches: ["main"] } });
        expect(deploy.concurrency["cancel-in-progress"]).toBe(false);
        expect(runs("deploy.yml")).toContain("npm run -s pulumi -- up --yes --stack prod");

        // The CLI installed in CI matches the SDK pinned in package.json, and is the one npm run pulumi runs.
        const sdk = (JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies["@pulumi/pulumi"];
        for (const file of ["preview.yml", "deploy.yml"]) {
            const install = steps(file).find((s) => s.uses?.startsWith("pulumi/actions@"));
            expect(install?.with, file).toEqual({ "pulumi-version": sdk });
            const env = Object.values(workflow(file).jobs)[0] as unknown as { env: Record<string, string> };
            expect(env.env.SELFPAGES_USE_SYSTEM_PULUMI, file).toBe("1");
        }
    });
});
