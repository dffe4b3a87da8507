/**
 * The README's "Using it for your site" block and the steps `npm run sandbox` prints, run as a new
 * user would: the README's block on a copy of the working tree with a fresh home directory, a
 * sandbox host standing in for the user's VM; the sandbox's hints as printed, in bash.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSandbox, type Sandbox } from "../../sandbox/build";
import type { GitHubStandin } from "../../sandbox/github/server";
import { privateKeyOf, type SandboxHost } from "../../sandbox/hostInstance";
import type { SitePublisher } from "../../sandbox/origin";
import { cacheDir, repoRoot } from "../../toolchain/env";
import { get, privateKeyLines, runCommand, waitFor } from "./support";

/** The fenced block between the README's user-path markers. */
function readmeUserPath(): string {
    const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
    const block = /<!-- user-path:start -->\n```sh\n([\s\S]*?)```\n<!-- user-path:end -->/.exec(readme);
    if (!block) throw new Error("README.md has no user-path block");
    return block[1];
}

/** Caches a new user already has after the first run: Go modules and builds, npm's, the toolchain's. */
function sharedCaches(): Record<string, string> {
    const go = (name: string) => execFileSync("go", ["env", name], { encoding: "utf8" }).trim();
    return {
        SELFPAGES_CACHE: cacheDir,
        SELFPAGES_THIRD_PARTY: path.resolve(repoRoot, "..", "shared", "third_party"),
        GOMODCACHE: go("GOMODCACHE"),
        GOCACHE: go("GOCACHE"),
        GOPATH: go("GOPATH"),
        npm_config_cache: path.join(os.homedir(), ".npm"),
    };
}

/** The working tree as a fresh clone has it (tracked and new files), with the installed node_modules. */
function copyOfWorkingTree(target: string): void {
    const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repoRoot, encoding: "utf8" }).split("\0").filter(Boolean);
    for (const file of files) {
        if (!fs.existsSync(path.join(repoRoot, file))) continue;
        fs.mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
        // Timestamps kept: ensure-deps compares package-lock.json with node_modules.
        fs.cpSync(path.join(repoRoot, file), path.join(target, file), { preserveTimestamps: true });
    }
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(target, "node_modules"));
}

describe("the README's user path, as printed", () => {
    const name = "e2e-readme";
    let host: SandboxHost;
    let standin: GitHubStandin;
    let publisher: SitePublisher;
    let work: string;
    let home: string;
    let clone: string;
    let env: Record<string, string>;
    let sandbox: Sandbox;
    let token: string;
    let repository: string;

    const run = (script: string) => runCommand("bash", ["-euo", "pipefail", "-c", script], { cwd: clone, env });

    beforeAll(async () => {
        // No stack: the README's block makes the user's own.
        sandbox = await buildSandbox({ name, stack: false });
        ({ host, standin, publisher, repository, githubToken: token } = sandbox);
        work = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-readme-"));
        home = path.join(work, "home");
        clone = path.join(work, "selfpages");
        fs.mkdirSync(path.join(home, ".ssh"), { recursive: true, mode: 0o700 });
        fs.writeFileSync(path.join(home, ".ssh", "id_ed25519"), privateKeyOf(host), { mode: 0o600 });
        fs.mkdirSync(path.join(home, ".selfpages"), { recursive: true, mode: 0o700 });
        fs.writeFileSync(path.join(home, ".selfpages", "github-token"), token, { mode: 0o600 });
        copyOfWorkingTree(clone);
        env = {
            PATH: process.env.PATH ?? "/usr/bin:/bin",
            HOME: home,
            // Pulumi finds its home through the user database, not $HOME: point it at the new user's.
            PULUMI_HOME: path.join(home, ".pulumi"),
            // `pulumi up` asks for a confirmation at a terminal; this is how Pulumi skips it elsewhere.
            PULUMI_SKIP_CONFIRMATIONS: "true",
            ...sharedCaches(),
        };
    }, 600_000);

    afterAll(async () => {
        if (clone && fs.existsSync(path.join(clone, "Pulumi.mysite.yaml"))) {
            await run("export PULUMI_CONFIG_PASSPHRASE_FILE=~/.selfpages/passphrase; npm run -s pulumi -- destroy --yes --stack mysite >/dev/null; npm run -s pulumi -- stack rm --yes mysite >/dev/null");
        }
        await sandbox?.close();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    }, 600_000);

    it("goes from a fresh home directory to a served site, then a second up changes nothing", async () => {
        const lines = readmeUserPath()
            .replaceAll("vm.example.org", host.address)
            .replaceAll("www.example.org", host.address)
            .replaceAll("owner/name", repository)
            .split("\n");
        // The sandbox's own origin and GitHub, where a real VM would reach github.com.
        const sandboxOnly = [
            "npm run -s pulumi -- config set os debian",
            // Its server name is an IP address, which no certificate names.
            "npm run -s pulumi -- config set tls off",
            `npm run -s pulumi -- config set siteCloneUrl ${host.originUrl}`,
            `npm run -s pulumi -- config set githubApiUrl ${standin.apiUrl}`,
        ];
        const preflightAt = lines.findIndex((l) => l.startsWith("npm run preflight"));
        expect(preflightAt).toBeGreaterThan(0);
        lines.splice(preflightAt, 0, ...sandboxOnly);

        const first = await run(lines.join("\n"));
        expect(first.status, `${first.stdout}\n${first.stderr}`).toBe(0);
        expect(first.stdout).toContain("preflight passed");
        expect(first.stdout).toMatch(/Resources:\n\s+\+ \d+ created/);
        // No warning a user cannot act on.
        expect(`${first.stdout}${first.stderr}`).not.toMatch(/warning: using .* from \$PATH|install-scripts/);
        expect(fs.existsSync(path.join(home, ".selfpages", "state", ".pulumi", "stacks"))).toBe(true);

        const sha = publisher.publish({ "readme.html": "<p>from the README path</p>" }, "README path");
        const [delivery] = await standin.sendPush(repository, { ref: "refs/heads/gh-pages", after: sha });
        expect(delivery.status_code).toBe(202);
        await waitFor("the pushed page", async () => (await get(`http://${host.address}/readme.html`)).body.toString().includes("from the README path"), 10_000, 100);

        const second = await run("export PULUMI_CONFIG_PASSPHRASE_FILE=~/.selfpages/passphrase\nnpm run -s pulumi -- up --expect-no-changes --stack mysite");
        expect(second.status, `${second.stdout}\n${second.stderr}`).toBe(0);
        expect(second.stdout).toMatch(/Resources:\n\s+\d+ unchanged/);

        // The state on disk holds no secret in the clear.
        const state = execFileSync("sh", ["-c", `cat ${path.join(home, ".selfpages", "state")}/.pulumi/stacks/*/*.json`], { encoding: "utf8" });
        for (const secret of [token, ...privateKeyLines(privateKeyOf(host))]) expect(state).not.toContain(secret);
    });
});

describe("the steps `npm run sandbox` prints, as printed", () => {
    const name = "e2e-hints";
    let stateDir: string;
    let env: Record<string, string>;

    beforeAll(() => {
        stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-hints-"));
        env = { ...(process.env as Record<string, string>), SELFPAGES_SANDBOX_NAME: name, SELFPAGES_SANDBOX_STATE: stateDir };
    });

    afterAll(async () => {
        await runCommand("npm", ["run", "sandbox", "--", "--down"], { cwd: repoRoot, env });
    }, 600_000);

    it("publishes a change that is served, and previews the stack with no changes", async () => {
        const up = await runCommand("npm", ["run", "sandbox"], { cwd: repoRoot, env });
        expect(up.status, up.stderr).toBe(0);
        const section = (from: string, to: string) => {
            const start = up.stdout.indexOf(`\n${from}`);
            const end = up.stdout.indexOf(`\n${to}`, start + 1);
            expect(start, `no "${from}" in the output`).toBeGreaterThan(0);
            return up.stdout.slice(up.stdout.indexOf("\n", start + 1) + 1, end);
        };
        const hints = `${section("Publish a change", "Run pulumi")}\n${section("Run pulumi", "Remove everything")}`;
        // A shell as a new user has it: no git identity of its own, started in its home directory.
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-hints-home-"));
        try {
            const shell = await runCommand("bash", ["-euo", "pipefail", "-c", hints], { cwd: home, env: { ...env, HOME: home, PULUMI_HOME: path.join(home, ".pulumi"), ...sharedCaches() } });
            expect(shell.status, `${shell.stdout}\n${shell.stderr}`).toBe(0);
            expect(shell.stdout).toMatch(/^delivery [0-9a-f-]{36} to \S+: 202 OK$/m);
            expect(shell.stdout).toContain("<p>hello</p>");
            expect(shell.stdout).toMatch(/Resources:\n\s+\d+ unchanged/);
        } finally {
            fs.rmSync(home, { recursive: true, force: true });
        }
    });
});
