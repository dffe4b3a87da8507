import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Shell, SyncHost, type SyncOptions, realGit, text, which } from "../templates/syncFixtures";
import { AlpineRoot, chrootUnavailable } from "./chroot";
import { alpineAvailable } from "./packaging";

/**
 * The sync program under Alpine's own busybox (ash, flock, find, xargs, gzip, stat, touch, date,
 * cp -al, mv -T of the 3.20.3 minirootfs), chrooted and offline. The minirootfs has no git and no
 * brotli: the host's are bound in with the libraries they load, the tools that are not Alpine's.
 */

const unavailable = alpineAvailable ? chrootUnavailable() : "../shared/third_party/alpine is missing";
if (unavailable) console.warn(`test/alpine/sync: skipped: ${unavailable}`);

/**
 * The host's git and brotli (Alpine packages of their own, not busybox) and what they load (ldd), at
 * the same paths inside the root; /tmp for the tests' trees.
 */
function gitBinds(): string[] {
    const brotli = which("brotli");
    if (!brotli) throw new Error("brotli is not installed (scripts/ensure-deps.sh)");
    const libraries = [realGit, brotli].flatMap((binary) =>
        execFileSync("ldd", [binary], { encoding: "utf8" })
            .split("\n")
            .map((line) => /(\/\S+) \(0x/.exec(line)?.[1])
            .filter((p): p is string => p !== undefined),
    );
    const dirs = new Set(libraries.map((p) => path.dirname(p)));
    const gitDirs = ["/usr/lib/git-core", "/usr/share/git-core"].filter((d) => fs.existsSync(d));
    return [os.tmpdir(), realGit, brotli, ...gitDirs, ...dirs];
}

const push = (delivery: string) => ["webhook", "push", "refs/heads/gh-pages", "do-it-ecm/do-it", delivery];
const gunzip = (file: string) => zlib.gunzipSync(fs.readFileSync(file)).toString();
const seconds = (file: string) => Math.floor(fs.statSync(file).mtimeMs / 1000);

describe.skipIf(unavailable !== undefined)("the sync program under Alpine's busybox", () => {
    let root: AlpineRoot;
    let shell: Shell;
    const hosts: SyncHost[] = [];
    const newHost = (options?: SyncOptions) => {
        const host = new SyncHost(shell, options);
        hosts.push(host);
        return host;
    };
    beforeAll(() => {
        root = new AlpineRoot();
        shell = { name: "Alpine 3.20 busybox ash (chroot)", command: root.shell(gitBinds()), path: ["/usr/bin", "/bin", "/usr/sbin", "/sbin"], notes: [] };
    });
    afterEach(async () => {
        while (hosts.length > 0) await hosts.pop()?.cleanup();
    });
    afterAll(() => root?.remove());

    it("deploys a commit: a release of it, precompressed with the source's mtime, switched atomically", async () => {
        const host = newHost();
        const sha = host.origin.publish({ "index.html": text("home", 3000), "css/site.css": text("css", 1500), "small.txt": "tiny\n" });
        const result = await host.run("manual");
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toMatch(new RegExp(`sync\\[manual\\] deployed ${sha.slice(0, 7)} \\(previous none\\)`));
        expect(host.currentCommit()).toBe(sha);
        for (const file of ["index.html", "css/site.css"]) {
            const source = path.join(host.current, file);
            expect(gunzip(`${source}.gz`)).toBe(fs.readFileSync(source, "utf8"));
            expect(seconds(`${source}.gz`)).toBe(seconds(source));
            expect(zlib.brotliDecompressSync(fs.readFileSync(`${source}.br`)).toString()).toBe(fs.readFileSync(source, "utf8"));
            expect(seconds(`${source}.br`)).toBe(seconds(source));
        }
        expect(fs.existsSync(path.join(host.current, "small.txt.gz"))).toBe(false);
        expect(fs.existsSync(path.join(host.current, "small.txt.br"))).toBe(false);

        // A second commit: the release before stays whole, the link moves.
        const first = host.currentTarget();
        const v2 = host.origin.publish({ "index.html": text("home v2", 3000) });
        expect((await host.run("cron")).code).toBe(0);
        expect(host.currentCommit()).toBe(v2);
        expect(host.currentTarget()).not.toBe(first);
        expect(fs.existsSync(path.join(host.releaseDir(first.replace("releases/", "")), ".selfpages-complete"))).toBe(true);
    });

    it("lock (busybox flock): deliveries during a running sync exit at once and cause exactly one more sync", async () => {
        const host = newHost();
        host.origin.publish({ "index.html": text("home", 3000) });
        expect((await host.run("manual")).code).toBe(0);
        const since = host.log().split("\n").length - 1;

        host.origin.publish({ "index.html": text("home v2", 3000) });
        host.pause("fetch", true);
        const holder = host.start(push("d-holder"));
        await host.waitPaused("fetch");
        const v3 = host.origin.publish({ "index.html": text("home v3", 3000) });
        const burst = await Promise.all([...Array(5).keys()].map((i) => host.run(...push(`d-burst-${i}`))));
        for (const r of burst) {
            expect(r.code, r.stderr).toBe(0);
            expect(r.stderr).toMatch(/queued: a running sync will sync once more/);
        }
        expect(holder.child.exitCode).toBeNull();
        host.pause("fetch", false);
        expect((await holder.done).code).toBe(0);
        expect(host.outcomes(since)).toHaveLength(2);
        expect(host.currentCommit()).toBe(v3);
    });

    it("FOLDER and PIN: a commit without the folder refused; a pin served from a kept release without the origin, or fetched by its id; pushes while pinned not deployed", async () => {
        const host = newHost({ folder: "docs", keepReleases: 2 });
        const short = (sha: string) => sha.slice(0, 7);
        const v1 = host.origin.publish({ "docs/index.html": text("docs v1", 3000), "src/app.js": text("src", 3000) });
        expect((await host.run("manual")).code).toBe(0);
        expect(fs.existsSync(path.join(host.current, "docs/index.html.gz"))).toBe(true);
        expect(fs.existsSync(path.join(host.current, "src/app.js.gz"))).toBe(false);
        const r1 = host.currentTarget();
        const v2 = host.origin.publish({ "docs/index.html": null, "index.html": "root" });
        let result = await host.run("manual");
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`sync[manual] error: branch gh-pages at ${short(v2)} has no folder /docs\n`);
        expect(host.currentTarget()).toBe(r1);

        const v3 = host.origin.publish({ "docs/index.html": text("docs v3", 3000) });
        expect((await host.run(...push("d3"))).code).toBe(0);
        expect(host.currentCommit()).toBe(v3);
        host.configure({ pin: v1 });
        const away = `${host.origin.bare}.away`;
        fs.renameSync(host.origin.bare, away);
        result = await host.run("manual");
        fs.renameSync(away, host.origin.bare);
        expect(result.code, result.stderr).toBe(0);
        expect(host.currentTarget()).toBe(r1);
        result = await host.run("webhook", "push", "refs/heads/gh-pages", "do-it-ecm/do-it", "d4", v3);
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toContain(`pinned to ${short(v1)}: push of ${short(v3)} to gh-pages not deployed`);
        expect(host.currentTarget()).toBe(r1);

        // Two more deploys prune v1's release; pinned again, it is fetched.
        host.configure({ pin: "" });
        expect((await host.run("manual")).code).toBe(0);
        host.origin.publish({ "docs/index.html": text("docs v5", 3000) });
        expect((await host.run("cron")).code).toBe(0);
        expect(host.releases().map((name) => name.slice(-7))).not.toContain(short(v1));
        host.configure({ pin: v1 });
        result = await host.run("manual");
        expect(result.code, result.stderr).toBe(0);
        expect(host.currentCommit()).toBe(v1);
        expect(gunzip(path.join(host.current, "docs/index.html.gz"))).toBe(text("docs v1", 3000));
    });
});
