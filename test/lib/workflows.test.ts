import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./fixtures";

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

    it("preview posts the plan on pull requests; up runs on pushes to main, one at a time", () => {
        const preview = workflow("preview.yml");
        expect(Object.keys(preview.on)).toEqual(["pull_request"]);
        const previewStep = Object.values(preview.jobs)[0].steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
        expect(previewStep?.with).toMatchObject({ command: "preview", "comment-on-pr": true, "stack-name": "prod" });

        const deploy = workflow("deploy.yml") as ReturnType<typeof workflow> & { concurrency: { "cancel-in-progress": boolean } };
        expect(deploy.on).toMatchObject({ push: { branches: ["main"] } });
        expect(deploy.concurrency["cancel-in-progress"]).toBe(false);
        const upStep = Object.values(deploy.jobs)[0].steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
        expect(upStep?.with).toMatchObject({ command: "up", "stack-name": "prod" });
        // The CLI in CI matches the SDK pinned in package.json.
        const sdk = (JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies["@pulumi/pulumi"];
        expect(previewStep?.with?.["pulumi-version"]).toBe(sdk);
        expect(upStep?.with?.["pulumi-version"]).toBe(sdk);
    });
});
