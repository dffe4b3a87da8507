import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Shell, SyncHost, realGit, text } from "../templates/syncFixtures";
import { AlpineRoot, chrootUnavailable } from "./chroot";
import { alpineAvailable } from "./packaging";

/**
 * The sync program under Alpine's own busybox (ash, flock, find, xargs, gzip, stat, touch, date,
 * cp -al, mv -T of the 3.20.3 minirootfs), chrooted and offline. The minirootfs has no git: the
 * host's is bound in with the libraries it loads, the one tool that is not Alpine's.
 */

const unavailable = alpineAvailable ? chrootUnavailable() : "../shared/third_party/alpine is missing";
if (unavailable) console.warn(`test/alpine/sync: skipped: ${unavailable}`);

/** The host's git and what it loads (ldd), at the same paths inside the root; /tmp for the tests' trees. */
function gitBinds(): string[] {
    const libraries = execFileSync("ldd", [realGit], { encoding: "utf8" })
        .split("\n")
        .map((line) => /(\/\S+) \(0x/.exec(line)?.[1])
        .filter((p): p is string => p !== undefined);
    const dirs = new Set(libraries.map((p) => path.dirname(p)));
    const gitDirs = ["/usr/lib/git-core", "/usr/share/git-core"].filter((d) => fs.existsSync(d));
    return [os.tmpdir(), realGit, ...gitDirs, ...dirs];
}

const push = (delivery: string) => ["webhook", "push", "refs/heads/gh-pages", "do-it-ecm/do-it", delivery];
const gunzip = (file: string) => zlib.gunzipSync(fs.readFileSync(file)).toString();
const seconds = (file: string) => Math.floor(fs.statSync(file).mtimeMs / 1000);

describe.skipIf(unavailable !== undefined)("the sync program under Alpine's busybox", () => {
    let root: AlpineRoot;
    let shell: Shell;
    const hosts: SyncHost[] = [];
    const newHost = () => {
        const host = new SyncHost(shell);
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
        }
        expect(fs.existsSync(path.join(host.current, "small.txt.gz"))).toBe(false);

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
});
