import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { renderTemplate } from "../../lib/templates";
import { busyboxShell, dashShell, gzipExtensions, inode, realGit, type Shell, snapshot, SyncHost, type SyncOptions, text } from "./syncFixtures";

// The sync program's FOLDER and PIN (sites-design.md), run for real on local git repositories
// under dash and under busybox ash, as test/templates/sync.test.ts does for the rest.

const toolsDir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-syncpin-tools-"));
const shells = [dashShell(), busyboxShell(toolsDir)].filter((s): s is Shell => s !== undefined);

const hosts: SyncHost[] = [];
afterEach(async () => {
    while (hosts.length > 0) await hosts.pop()!.cleanup();
});
afterAll(() => fs.rmSync(toolsDir, { recursive: true, force: true }));

const push = (delivery: string, after = "") => ["webhook", "push", "refs/heads/gh-pages", "do-it-ecm/do-it", delivery, ...(after ? [after] : [])];
const short = (sha: string) => sha.slice(0, 7);

/** A branch that publishes its site from docs/, beside the project's own files. */
function project(version: string): Record<string, string> {
    return {
        "docs/index.html": text(`docs home ${version}`, 3000),
        "docs/guide/page.html": text(`guide ${version}`, 1200),
        "src/app.js": text(`source ${version}`, 4000),
        "README.md": text(`readme ${version}`, 500),
    };
}

/** A release holds exactly `git archive` of its commit, apart from our dotfiles and generated .gz/.br files. */
function expectRelease(host: SyncHost, release: string, sha: string): void {
    const archive = path.join(host.root, `archive-${sha}`);
    if (!fs.existsSync(archive)) host.origin.archive(sha, archive);
    const ours = (rel: string) => rel.startsWith(".selfpages-") || /\.(gz|br)$/.test(rel);
    expect(snapshot(release, ours)).toEqual(snapshot(archive));
    expect(fs.readFileSync(path.join(release, ".selfpages-commit"), "utf8").trim()).toBe(sha);
    expect(fs.existsSync(path.join(release, ".selfpages-complete"))).toBe(true);
}

/** Moves the origin away for the length of `body`: any fetch or ls-remote then fails. */
async function withoutOrigin<T>(host: SyncHost, body: () => Promise<T>): Promise<T> {
    const moved = `${host.origin.bare}.away`;
    fs.renameSync(host.origin.bare, moved);
    try {
        return await body();
    } finally {
        fs.renameSync(moved, host.origin.bare);
    }
}

describe("sync.conf's FOLDER and PIN", () => {
    it("renders both single-quoted, and empty when unset", () => {
        const base = { repository: "a/b", branch: "gh-pages", cloneUrl: "u", siteRoot: "/s", stateDir: "/v", logFile: "/l", deployReport: "/d", keepReleases: 3, gzipExtensions, gzipMinBytes: 256 };
        const set = renderTemplate("sync.conf", { ...base, folder: "docs", pin: "a".repeat(40) });
        expect(set).toContain("\nFOLDER='docs'\n");
        expect(set).toContain(`\nPIN='${"a".repeat(40)}'\n`);
        const unset = renderTemplate("sync.conf", { ...base, folder: "", pin: "" });
        expect(unset).toMatch(/\nFOLDER=\nPIN=\n$/);
    });
});

describe.each(shells)("sync FOLDER and PIN under $name", (shell) => {
    const newHost = (options?: SyncOptions) => {
        const host = new SyncHost(shell, options);
        hosts.push(host);
        return host;
    };

    it("FOLDER: the release is the whole commit and holds the folder; precompression covers the folder only", async () => {
        const host = newHost({ folder: "docs" });
        const v1 = host.origin.publish(project("v1"));
        const result = await host.run("manual");
        expect(result.code, result.stderr).toBe(0);
        expect(host.currentCommit()).toBe(v1);
        expectRelease(host, host.current, v1);
        expect(fs.statSync(path.join(host.current, "docs")).isDirectory()).toBe(true);
        expect(zlib.gunzipSync(fs.readFileSync(path.join(host.current, "docs/index.html.gz"))).toString()).toBe(text("docs home v1", 3000));
        expect(fs.existsSync(path.join(host.current, "docs/guide/page.html.br"))).toBe(true);
        // Outside the folder nothing is served: nothing compressed there.
        expect(fs.existsSync(path.join(host.current, "src/app.js.gz"))).toBe(false);
        expect(fs.existsSync(path.join(host.current, "src/app.js.br"))).toBe(false);

        // A push: incremental as ever, the unchanged compressed files shared.
        const r1 = fs.realpathSync(host.current);
        const v2 = host.origin.publish({ "docs/guide/page.html": text("guide v2", 1200), "src/app.js": text("source v2", 4000) });
        expect((await host.run(...push("d2", v2))).code).toBe(0);
        expect(host.currentCommit()).toBe(v2);
        expectRelease(host, host.current, v2);
        expect(inode(path.join(host.current, "docs/index.html.gz"))).toBe(inode(path.join(r1, "docs/index.html.gz")));
        expect(zlib.gunzipSync(fs.readFileSync(path.join(host.current, "docs/guide/page.html.gz"))).toString()).toBe(text("guide v2", 1200));
        expect(fs.existsSync(path.join(host.current, "src/app.js.gz"))).toBe(false);

        // The whole branch served from then on: what was left out is compressed once.
        host.configure({ folder: "" });
        const v3 = host.origin.publish({ "README.md": text("readme v3", 500) });
        expect((await host.run("manual")).code).toBe(0);
        expect(host.currentCommit()).toBe(v3);
        expect(zlib.gunzipSync(fs.readFileSync(path.join(host.current, "src/app.js.gz"))).toString()).toBe(text("source v2", 4000));
        expect(fs.existsSync(path.join(host.current, "src/app.js.br"))).toBe(true);
        expect(inode(path.join(host.current, "docs/index.html.gz"))).toBe(inode(path.join(r1, "docs/index.html.gz")));
    });

    it("FOLDER missing: not deployed; `manual` says so on stderr and exits 1, current unchanged; webhook and cron log it", async () => {
        // The first deploy: nothing is served, nothing is left behind.
        const fresh = newHost({ folder: "docs" });
        const only = fresh.origin.publish({ "index.html": text("root only", 1000) });
        let result = await fresh.run("manual");
        expect(result.code).toBe(1);
        const line = `error: branch gh-pages at ${short(only)} has no folder /docs`;
        expect(result.stderr).toContain(`sync[manual] ${line}\n`);
        expect(fresh.log()).toContain(`sync[manual] ${line}\n`);
        expect(fs.existsSync(fresh.current)).toBe(false);
        expect(fresh.releases()).toEqual([]);
        // A symlink named docs is no folder of the commit either.
        const linked = fresh.origin.publish({ "site/index.html": "site", docs: { symlink: "site" } });
        result = await fresh.run("manual");
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`sync[manual] error: branch gh-pages at ${short(linked)} has no folder /docs\n`);
        expect(fresh.releases()).toEqual([]);

        const host = newHost({ folder: "docs" });
        const v1 = host.origin.publish(project("v1"));
        expect((await host.run("manual")).code).toBe(0);
        const served = host.currentTarget();
        // The branch stops having docs/.
        const v2 = host.origin.publish({ "docs/index.html": null, "docs/guide/page.html": null, "site/index.html": "moved" });
        for (const args of [push("d2", v2), ["cron"], ["manual"]]) {
            result = await host.run(...args);
            expect(result.code, args.join(" ")).toBe(1);
            expect(host.log()).toContain(`] error: branch gh-pages at ${short(v2)} has no folder /docs\n`);
            expect(host.currentTarget()).toBe(served);
            expect(host.releases()).toEqual([path.basename(served)]);
        }
        expect(result.stderr).toContain(`sync[manual] error: branch gh-pages at ${short(v2)} has no folder /docs\n`);
        expect(host.log()).toMatch(new RegExp(`sync\\[manual\\] error: \\S.* failed; still serving ${short(v1)}$`, "m"));

        // A FOLDER changed in the config while the branch has not moved: `up` fails too.
        host.origin.publish(project("v3"));
        expect((await host.run("manual")).code).toBe(0);
        host.configure({ folder: "www" });
        result = await host.run("manual");
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/sync\[manual\] error: branch gh-pages at [0-9a-f]{7} has no folder \/www$/m);
        expect(result.stderr).toMatch(/sync\[manual\] error: check of the folder \/www failed; still serving/m);
        // Set back: up to date, nothing else.
        host.configure({ folder: "docs" });
        result = await host.run("manual");
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toMatch(/sync\[manual\] up to date [0-9a-f]{7}$/m);
    });

    it("PIN held by a kept release: served by a switch, without the origin; pushes are logged, not deployed; unpin deploys the head", async () => {
        const host = newHost({ keepReleases: 3 });
        const v1 = host.origin.publish(project("v1"));
        expect((await host.run("manual")).code).toBe(0);
        const r1 = host.currentTarget();
        host.origin.publish(project("v2"));
        expect((await host.run("cron")).code).toBe(0);
        const v3 = host.origin.publish({ "docs/index.html": text("docs home v3", 3000) });
        expect((await host.run("cron")).code).toBe(0);
        const r3 = host.currentTarget();
        const releases = host.releases();

        host.configure({ pin: v1 });
        // No origin: the switch must not need it.
        await withoutOrigin(host, async () => {
            const result = await host.run("manual");
            expect(result.code, result.stderr).toBe(0);
            expect(result.stderr).toMatch(new RegExp(`sync\\[manual\\] deployed ${short(v1)} \\(previous ${short(v3)}\\) from the kept release ${r1.slice("releases/".length)} in \\d+s$`, "m"));
            expect(host.currentTarget()).toBe(r1);
            expect(host.releases()).toEqual(releases);
            expectRelease(host, host.current, v1);
            // Again: nothing to do.
            const again = await host.run("manual");
            expect(again.code, again.stderr).toBe(0);
            expect(again.stderr).toMatch(new RegExp(`sync\\[manual\\] up to date ${short(v1)} \\(pinned\\)$`, "m"));
        });

        // Pushes while pinned: logged, the lock and its flag left as they were, nothing deployed.
        const v4 = host.origin.publish({ "docs/index.html": text("docs home v4", 3000) });
        const before = host.logLineCount();
        let result = await host.run(...push("d4", v4));
        expect(result.code, result.stderr).toBe(0);
        expect(host.log()).toMatch(new RegExp(`sync\\[webhook delivery=d4\\] pinned to ${short(v1)}: push of ${short(v4)} to gh-pages not deployed$`, "m"));
        result = await host.run("cron");
        expect(result.code, result.stderr).toBe(0);
        expect(host.log()).toMatch(new RegExp(`sync\\[cron\\] pinned to ${short(v1)}: the head of gh-pages is not deployed$`, "m"));
        // The pushed commit is the payload's: untrusted, logged as plain characters.
        result = await host.run(...push("d-odd", "$(touch x)\nforged"));
        expect(result.code, result.stderr).toBe(0);
        expect(host.log()).toMatch(/sync\[webhook delivery=d-odd\] pinned to [0-9a-f]{7}: push of \?\?touch to gh-pages not deployed$/m);
        expect(host.logLineCount()).toBe(before + 3);
        expect(host.currentTarget()).toBe(r1);
        expect(host.releases()).toEqual(releases);
        expect(fs.readdirSync(host.stateDir).sort()).toEqual(["sync.lock"]);

        // Unpinned: the head, built from the release that kept its index (r3), not from scratch.
        host.configure({ pin: "" });
        result = await host.run("manual");
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toMatch(new RegExp(`sync\\[manual\\] deployed ${short(v4)} \\(previous ${short(v1)}\\) in \\d+s$`, "m"));
        expect(host.currentCommit()).toBe(v4);
        expectRelease(host, host.current, v4);
        expect(inode(path.join(host.current, "src/app.js"))).toBe(inode(path.join(host.siteRoot, r3, "src/app.js")));
        // Three kept, the pinned release, now the oldest, among the removed; one index, the current release's.
        expect(host.releases()).toHaveLength(3);
        expect(host.releases()).not.toContain(r1.slice("releases/".length));
        expect(host.releases().filter((name) => fs.existsSync(path.join(host.releaseDir(name), ".selfpages-index")))).toEqual([path.basename(host.currentTarget())]);
    });

    it("PIN not kept: fetched by its id and deployed as a new release; the pruning keeps the current release; unpin switches back to the kept head", async () => {
        const host = newHost({ keepReleases: 2 });
        const v1 = host.origin.publish(project("v1"));
        expect((await host.run("manual")).code).toBe(0);
        for (const v of ["v2", "v3"]) {
            host.origin.publish({ "docs/index.html": text(`docs home ${v}`, 3000) });
            expect((await host.run("cron")).code).toBe(0);
        }
        const v4 = host.origin.publish({ "docs/index.html": text("docs home v4", 3000) });
        expect((await host.run("cron")).code).toBe(0);
        const r4 = host.currentTarget();
        expect(host.releases().map((name) => name.slice(-7))).not.toContain(short(v1));

        host.configure({ pin: v1.toUpperCase() });
        let result = await host.run("manual");
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toMatch(new RegExp(`sync\\[manual\\] deployed ${short(v1)} \\(previous ${short(v4)}\\) in \\d+s$`, "m"));
        expect(host.currentCommit()).toBe(v1);
        expect(host.currentTarget()).toMatch(new RegExp(`-${short(v1)}$`));
        expectRelease(host, host.current, v1);
        expect(host.releases()).toEqual([path.basename(r4), path.basename(host.currentTarget())]);

        // A push is not deployed.
        const v5 = host.origin.publish({ "docs/index.html": text("docs home v5", 3000) });
        result = await host.run(...push("d5", v5));
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toMatch(new RegExp(`pinned to ${short(v1)}: push of ${short(v5)} to gh-pages not deployed$`, "m"));
        expect(host.currentCommit()).toBe(v1);

        // Unpinned: the head (v5) is new: built (r4 is pruned, the pinned release stays).
        const pinned = host.currentTarget();
        host.configure({ pin: "" });
        result = await host.run("manual");
        expect(result.code, result.stderr).toBe(0);
        expect(host.currentCommit()).toBe(v5);
        expectRelease(host, host.current, v5);
        const r5 = host.currentTarget();
        expect(host.releases()).toEqual([pinned, r5].map((target) => path.basename(target)));
        // Pinned to v1 again, then unpinned: switches both ways, the releases as they were.
        host.configure({ pin: v1 });
        result = await host.run("manual");
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toMatch(new RegExp(`sync\\[manual\\] deployed ${short(v1)} \\(previous ${short(v5)}\\) from the kept release`, "m"));
        expect(host.currentTarget()).toBe(pinned);
        host.configure({ pin: "" });
        result = await host.run("manual");
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toMatch(new RegExp(`sync\\[manual\\] deployed ${short(v5)} \\(previous ${short(v1)}\\) from the kept release`, "m"));
        expect(host.currentTarget()).toBe(r5);
        expect(host.releases()).toEqual([pinned, r5].map((target) => path.basename(target)));
        // The way back kept its index (a switch removes none): the next push is incremental.
        const v6 = host.origin.publish({ "README.md": text("readme v6", 500) });
        expect((await host.run(...push("d6", v6))).code).toBe(0);
        expect(inode(path.join(host.current, "docs/index.html"))).toBe(inode(path.join(host.siteRoot, r5, "docs/index.html")));
    });

    it("lock while pinned: deliveries during the pin's fetch queue as ever, and cause one more sync that deploys nothing", async () => {
        const host = newHost();
        const v1 = host.origin.publish(project("v1"));
        host.origin.publish(project("v2"));
        expect((await host.run("manual")).code).toBe(0);
        const since = host.log().split("\n").length - 1;
        host.configure({ pin: v1 });
        host.pause("fetch", true);
        const manual = host.start(["manual"]);
        await host.waitPaused("fetch");
        const v3 = host.origin.publish(project("v3"));
        const burst = await Promise.all([...Array(5).keys()].map((i) => host.run(...push(`d${i}`, v3))));
        for (const result of burst) {
            expect(result.code, result.stderr).toBe(0);
            expect(result.stderr).toMatch(/queued: a running sync will sync once more/);
        }
        host.pause("fetch", false);
        const result = await manual.done;
        expect(result.code, result.stderr).toBe(0);
        expect(host.outcomes(since).map((line) => line.replace(/^\S+ /, ""))).toEqual([
            expect.stringMatching(`^sync\\[manual\\] deployed ${short(v1)} `),
            `sync[manual] up to date ${short(v1)} (pinned)`,
        ]);
        expect(host.currentCommit()).toBe(v1);
        expect(fs.readdirSync(host.stateDir).sort()).toEqual(["sync.lock"]);
    });

    it("PIN the origin does not have: the fetch fails, `manual` exits 1 naming it, current unchanged; bad parameters exit 2", async () => {
        const host = newHost();
        const v1 = host.origin.publish(project("v1"));
        expect((await host.run("manual")).code).toBe(0);
        const served = host.currentTarget();
        const missing = "0123456789abcdef0123456789abcdef01234567";
        host.configure({ pin: missing });
        let result = await host.run("manual");
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(new RegExp(`sync\\[manual\\] error: fetch of the pinned commit 0123456 failed; still serving ${short(v1)}$`, "m"));
        expect(host.currentTarget()).toBe(served);
        expect(host.releases()).toEqual([path.basename(served)]);

        for (const bad of [{ pin: "abc" }, { pin: `${"g".repeat(40)}` }, { pin: "", folder: "a/b" }, { folder: ".." }]) {
            host.configure(bad);
            result = await host.run("manual");
            expect(result.code, JSON.stringify(bad)).toBe(2);
            expect(result.stderr).toMatch(bad.pin !== undefined && bad.pin !== "" ? /PIN in sync\.conf is not a 40-hex commit/ : /FOLDER in sync\.conf is not one directory name/);
            expect(host.currentTarget()).toBe(served);
        }
    });
});

/** A free port on the loopback (the daemon binds it right after). */
async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

// The sandbox's origin is a git daemon: a commit is fetched by its id over git:// too.
describe("PIN fetched from a git daemon", () => {
    const dash = dashShell();
    let daemon: ChildProcess | undefined;
    afterEach(() => {
        // Its own process group: the daemon and the upload-pack it may still be running.
        if (daemon?.pid !== undefined && daemon.exitCode === null) process.kill(-daemon.pid, "SIGKILL");
        daemon = undefined;
    });

    it.skipIf(!dash)("deploys a pinned commit that is no branch head, over git://", async () => {
        const port = await freePort();
        const host = new SyncHost(dash!, { cloneUrl: () => `git://127.0.0.1:${port}/origin.git` });
        hosts.push(host);
        // git-daemon itself: `git daemon` would run it as a child that outlives a kill of git.
        const gitDaemon = path.join(execFileSync(realGit, ["--exec-path"], { encoding: "utf8" }).trim(), "git-daemon");
        daemon = spawn(gitDaemon, ["--reuseaddr", "--listen=127.0.0.1", `--port=${port}`, `--base-path=${host.root}`, "--export-all", host.root], { stdio: "ignore", detached: true });
        const v1 = host.origin.publish(project("v1"));
        const v2 = host.origin.publish({ "docs/index.html": text("docs home v2", 3000) });
        for (let i = 0; ; i++) {
            try {
                execFileSync(realGit, ["ls-remote", `git://127.0.0.1:${port}/origin.git`], { stdio: "ignore" });
                break;
            } catch (error) {
                if (i > 100) throw error;
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
        }
        expect((await host.run("manual")).code).toBe(0);
        expect(host.currentCommit()).toBe(v2);
        host.configure({ pin: v1 });
        const result = await host.run("manual");
        expect(result.code, result.stderr).toBe(0);
        expect(host.currentCommit()).toBe(v1);
        expectRelease(host, host.current, v1);
    });
});
