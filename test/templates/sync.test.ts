import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { filesDir, syncCommand, syncConfigFile } from "../../lib/hostFiles";
import { validSitesConfig } from "../lib/fixtures";
import { renderTemplate } from "../../lib/templates";
import { binary, busyboxShell, dashShell, gzipExtensions, inode, type Shell, snapshot, SyncHost, text, which } from "./syncFixtures";

// The rendered sync script, run for real on local git repositories under dash (Debian's /bin/sh)
// and under busybox ash with nothing but busybox applets and git on PATH (Alpine).

const toolsDir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-sync-tools-"));
const shells = [dashShell(), busyboxShell(toolsDir)].filter((s): s is Shell => s !== undefined);
for (const shell of shells) for (const note of shell.notes) console.warn(`sync tests under ${shell.name}: ${note}`);
if (shells.length < 2) console.warn(`sync tests: only ${shells.map((s) => s.name).join(", ") || "no shell"} available (need dash and busybox)`);

const hosts: SyncHost[] = [];
afterEach(async () => {
    while (hosts.length > 0) await hosts.pop()!.cleanup();
});
afterAll(() => fs.rmSync(toolsDir, { recursive: true, force: true }));

const push = (delivery: string) => ["webhook", "push", "refs/heads/gh-pages", "do-it-ecm/do-it", delivery];
const short = (sha: string) => sha.slice(0, 7);
const gunzip = (file: string) => zlib.gunzipSync(fs.readFileSync(file)).toString();
const unbrotli = (file: string) => zlib.brotliDecompressSync(fs.readFileSync(file)).toString();
const asBr = (gz: string) => `${gz.slice(0, -3)}.br`;
const seconds = (file: string) => Math.floor(fs.statSync(file).mtimeMs / 1000);

/** The site of the tests: text assets above and below the threshold, nested dirs, a binary, odd names, a symlink, a .gz the site ships. */
function siteV1(): Record<string, string | Buffer | { symlink: string }> {
    return {
        "index.html": text("home v1", 3000),
        "css/site.css": text("css v1", 1500),
        "js/app.js": text("js v1", 5000),
        "img/logo.png": binary(4000),
        "docs/guide/deep/page.html": text("deep v1", 800),
        "docs/guide/small.txt": "tiny\n",
        "data/feed.json": text("json v1", 600),
        "vendor/lib.js": text("vendor v1", 4000),
        "vendor/lib.js.gz": zlib.gzipSync(text("vendor v1", 4000)),
        "with space.css": text("spaced", 400),
        "ünïcode/fïle.svg": text("unicode", 400),
        'odd "quoted".js': text("quoted", 400),
        "link.html": { symlink: "index.html" },
        README: text("readme, no extension", 400),
    };
}

/** The .gz files the script must generate for siteV1 (eligible extension, >= 256 bytes, no .gz in git, not a symlink, a name git does not quote). */
const generatedV1 = ["css/site.css.gz", "data/feed.json.gz", "docs/guide/deep/page.html.gz", "index.html.gz", "js/app.js.gz", "with space.css.gz", "ünïcode/fïle.svg.gz"];

function manifest(release: string, encoding: "gz" | "br" = "gz"): string[] {
    return fs.readFileSync(path.join(release, `.selfpages-${encoding}`), "utf8").split("\n").filter(Boolean);
}

/**
 * A release holds exactly `git archive` of its commit, plus our dotfiles and its generated .gz and
 * .br files (each the gzip or brotli of its source, same mtime).
 */
function expectReleaseEqualsArchive(host: SyncHost, release: string, sha: string): void {
    const archive = path.join(host.root, `archive-${sha}`);
    if (!fs.existsSync(archive)) host.origin.archive(sha, archive);
    const generated = new Set([...manifest(release), ...manifest(release, "br")]);
    const ours = (rel: string) => rel.startsWith(".selfpages-") || generated.has(rel);
    expect(snapshot(release, ours)).toEqual(snapshot(archive));
    expect(fs.readFileSync(path.join(release, ".selfpages-commit"), "utf8").trim()).toBe(sha);
    expect(fs.existsSync(path.join(release, ".selfpages-complete"))).toBe(true);
    for (const file of generated) {
        const source = path.join(release, file.slice(0, -3));
        const decoded = file.endsWith(".gz") ? gunzip(path.join(release, file)) : unbrotli(path.join(release, file));
        expect(decoded, file).toBe(fs.readFileSync(source, "utf8"));
        expect(seconds(path.join(release, file)), `${file} mtime`).toBe(seconds(source));
    }
}

describe("the sync program (files/sync.sh) and its parameters (sync.conf)", () => {
    const ctx = {
        repository: "it's/a repo",
        branch: "gh-pages",
        folder: "docs",
        pin: "0123456789abcdef0123456789abcdef01234567",
        cloneUrl: "https://x-access-token:t0ken@github.com/do-it-ecm/do-it.git",
        siteRoot: "/srv/self pages",
        stateDir: "/var/lib/selfpages",
        logFile: "/var/log/selfpages/sync.log",
        deployReport: "/usr/local/lib/selfpages/deploy-report",
        keepReleases: 3,
        gzipExtensions,
        gzipMinBytes: 256,
    };
    const program = path.join(filesDir, "sync.sh");

    it("renders every parameter single-quoted; program and parameters parse under dash and busybox", () => {
        const conf = renderTemplate("sync.conf", ctx);
        expect(conf).toContain(`REPOSITORY='it'\\''s/a repo'`);
        expect(conf).toContain(`SITE_ROOT='/srv/self pages'`);
        expect(conf).toContain(`FOLDER='docs'`);
        expect(conf).toContain(`PIN='0123456789abcdef0123456789abcdef01234567'`);
        expect(conf).toContain(`GZIP_EXTENSIONS='html htm css js mjs json xml svg txt map webmanifest ico wasm'`);
        expect(fs.readFileSync(program, "utf8").startsWith("#!/bin/sh\n")).toBe(true);
        const file = path.join(toolsDir, "sync.conf");
        fs.writeFileSync(file, conf);
        for (const shell of shells) for (const f of [file, program]) execFileSync(shell.command[0], [...shell.command.slice(1), "-n", f]);
    });

    it("renders each site's parameters from its settings, into its own directory, readable by the service account only", () => {
        const sites = [
            { name: "main", repository: "assoc/site", serverNames: ["assoc.example.org"] },
            { name: "docs", repository: "assoc/docs", branch: "main", folder: "/docs", parent: "main", path: "docs", keepReleases: 5, pin: "89abcdef0123456789abcdef0123456789abcdef" },
        ];
        const { settings } = validSitesConfig(sites);
        const [main, docs] = settings.sites.map((site) => syncConfigFile(settings, site));
        expect(main).toMatchObject({ path: "/etc/selfpages/sites/main/sync.conf", mode: "0640", owner: "root", group: "selfpages" });
        expect(main.content).toMatch(/^REPOSITORY='assoc\/site'\nBRANCH='gh-pages'\nCLONE_URL='https:\/\/github.com\/assoc\/site.git'\nSITE_ROOT='\/srv\/selfpages\/sites\/main'\nSTATE_DIR='\/var\/lib\/selfpages\/sites\/main'\nLOG_FILE='\/var\/log\/selfpages\/sites\/main\/sync.log'\nDEPLOY_REPORT='\/usr\/local\/lib\/selfpages\/deploy-report'\nKEEP_RELEASES='3'$/m);
        expect(main.content).toMatch(/^FOLDER=\nPIN=\n$/m);
        expect(docs.path).toBe("/etc/selfpages/sites/docs/sync.conf");
        expect(docs.content).toMatch(/^REPOSITORY='assoc\/docs'\nBRANCH='main'\n/m);
        expect(docs.content).toMatch(/^FOLDER='docs'\nPIN='89abcdef0123456789abcdef0123456789abcdef'\n$/m);
        expect(docs.content).toMatch(/^SITE_ROOT='\/srv\/selfpages\/sites\/docs'$/m);
        expect(docs.content).toMatch(/^KEEP_RELEASES='5'$/m);
        // How the receiver, cron and `pulumi up` run the one program for a site.
        expect(syncCommand(settings, settings.sites[1], "cron")).toBe("/usr/local/lib/selfpages/sync --conf /etc/selfpages/sites/docs/sync.conf cron");
    });

    it("passes shellcheck -s sh, the program as it ships", () => {
        if (!which("shellcheck")) {
            console.warn("shellcheck not installed: skipping the lint of the sync program");
            return;
        }
        execFileSync("shellcheck", ["-s", "sh", program]);
    });
});

describe.each(shells)("sync script under $name", (shell) => {
    const newHost = (options?: ConstructorParameters<typeof SyncHost>[1]) => {
        const host = new SyncHost(shell, options);
        hosts.push(host);
        return host;
    };

    it("first deploy (manual) serves the commit: a shallow clone, a complete release, a log line", async () => {
        const host = newHost();
        const sha = host.origin.publish(siteV1());
        const result = await host.run("manual");
        expect(result.code, result.stderr).toBe(0);

        expect(host.currentTarget()).toMatch(new RegExp(`^releases/\\d{8}T\\d{6}Z-${short(sha)}$`));
        expect(host.currentCommit()).toBe(sha);
        expectReleaseEqualsArchive(host, host.current, sha);
        expect(manifest(host.current)).toEqual(generatedV1);
        // The site ships a .gz of vendor/lib.js, not a .br: ours is generated beside theirs.
        expect(manifest(host.current, "br")).toEqual([...generatedV1.map(asBr), "vendor/lib.js.br"].sort());
        // The site's own .gz is served as shipped.
        expect(gunzip(path.join(host.current, "vendor/lib.js.gz"))).toBe(text("vendor v1", 4000));

        // One commit deep, nothing else fetched.
        expect(fs.readFileSync(path.join(host.siteRoot, "repo.git/shallow"), "utf8").trim()).toBe(sha);
        expect(host.repoGit(["rev-list", "--all", "--count"])).toBe("1");
        expect(host.repoGit(["for-each-ref", "--format=%(refname)"])).toBe("refs/remotes/origin/gh-pages");

        // The log directory was created; the line goes to the log and to stderr.
        const line = new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ sync\\[manual\\] deployed ${short(sha)} \\(previous none\\) in \\d+s$`, "m");
        expect(host.log()).toMatch(line);
        expect(result.stderr).toMatch(line);
        // Then the milestones of the deploy, in order, for the benchmark (seconds where date has no %N).
        const phases = /^\S+ sync\[manual\] phases((?: [a-z]+=\d+(?:\.\d{9})?)+)$/m.exec(host.log());
        expect(phases, host.log()).not.toBeNull();
        const marks = phases![1].trim().split(" ").map((m) => m.split("="));
        expect(marks.map(([name]) => name)).toEqual(["start", "locked", "fetch", "fetched", "planned", "checkedout", "gz", "br", "switched", "finished"]);
        const times = marks.map(([, t]) => Number(t));
        expect(times).toEqual([...times].sort((a, b) => a - b));
        expect(fs.readdirSync(host.stateDir).sort()).toEqual(["sync.lock"]);
    });

    it("a second commit shares unchanged files by inode, replaces changed ones, removes deleted ones, and leaves the old release intact", async () => {
        const host = newHost();
        const v1 = host.origin.publish(siteV1());
        expect((await host.run("manual")).code).toBe(0);
        const r1 = path.join(host.siteRoot, host.currentTarget());
        const before = snapshot(r1);

        const v2 = host.origin.publish({
            "css/site.css": text("css v2", 1500),
            "docs/guide/deep/page.html": null,
            "new/dir/added.js": text("added v2", 700),
            "img/logo.png": binary(4000, 2),
        });
        const result = await host.run(...push("delivery-2"));
        expect(result.code, result.stderr).toBe(0);
        const r2 = path.join(host.siteRoot, host.currentTarget());
        expect(r2).not.toBe(r1);
        expect(host.currentCommit()).toBe(v2);

        // (a) unchanged files, and the .gz of unchanged files, are the same inodes.
        for (const file of ["index.html", "index.html.gz", "js/app.js", "js/app.js.gz", "vendor/lib.js.gz", "docs/guide/small.txt", "ünïcode/fïle.svg"]) {
            expect(inode(path.join(r2, file)), file).toBe(inode(path.join(r1, file)));
        }
        // (b) changed files are new inodes; the old release keeps the old content.
        for (const file of ["css/site.css", "css/site.css.gz", "img/logo.png"]) expect(inode(path.join(r2, file)), file).not.toBe(inode(path.join(r1, file)));
        expect(fs.readFileSync(path.join(r1, "css/site.css"), "utf8")).toBe(text("css v1", 1500));
        expect(gunzip(path.join(r1, "css/site.css.gz"))).toBe(text("css v1", 1500));
        expect(gunzip(path.join(r2, "css/site.css.gz"))).toBe(text("css v2", 1500));
        // (c) deleted files, their generated .gz and the emptied directory are gone.
        expect(fs.existsSync(path.join(r2, "docs/guide/deep"))).toBe(false);
        expect(fs.existsSync(path.join(r1, "docs/guide/deep/page.html.gz"))).toBe(true);
        // (d) the new release is the new commit; the old one is still exactly the old commit.
        expectReleaseEqualsArchive(host, r2, v2);
        expect(manifest(r2)).toEqual([...generatedV1.filter((f) => !f.startsWith("docs/guide/deep")), "new/dir/added.js.gz"].sort());
        expect(manifest(r2, "br")).toEqual(manifest(r2).map(asBr).concat("vendor/lib.js.br").sort());
        for (const file of ["index.html.br", "vendor/lib.js.br"]) expect(inode(path.join(r2, file)), file).toBe(inode(path.join(r1, file)));
        expect(inode(path.join(r2, "css/site.css.br"))).not.toBe(inode(path.join(r1, "css/site.css.br")));
        expect(unbrotli(path.join(r1, "css/site.css.br"))).toBe(text("css v1", 1500));
        // Only its git index went: the next sync reads the current release's alone.
        before.delete(".selfpages-index");
        expect(snapshot(r1)).toEqual(before);
        expect(fs.existsSync(path.join(r2, ".selfpages-index"))).toBe(true);
        expectReleaseEqualsArchive(host, r1, v1);

        expect(host.log()).toMatch(new RegExp(`Z sync\\[webhook delivery=delivery-2\\] deployed ${short(v2)} \\(previous ${short(v1)}\\) in \\d+s$`, "m"));
    });

    it("precompression: same mtime as the source, regenerated on change, removed on delete or shrink, the site's own .gz untouched", async () => {
        const host = newHost();
        host.origin.publish(siteV1());
        expect((await host.run("manual")).code).toBe(0);
        const r1 = path.join(host.siteRoot, host.currentTarget());

        const v2 = host.origin.publish({
            // The site starts shipping its own index.html.gz: ours goes, theirs is served as is.
            "index.html.gz": zlib.gzipSync("the site's own"),
            // The site stops shipping vendor/lib.js.gz: the script generates one.
            "vendor/lib.js.gz": null,
            // Below the threshold now: no .gz at all.
            "data/feed.json": "{}\n",
            "js/app.js": null,
            "js/app.mjs": text("module v2", 900),
            "css/site.css": text("css v2", 2000),
        });
        const result = await host.run("cron");
        expect(result.code, result.stderr).toBe(0);
        const r2 = path.join(host.siteRoot, host.currentTarget());
        expect(host.currentCommit()).toBe(v2);
        expectReleaseEqualsArchive(host, r2, v2);

        expect(gunzip(path.join(r2, "index.html.gz"))).toBe("the site's own");
        expect(gunzip(path.join(r2, "vendor/lib.js.gz"))).toBe(text("vendor v1", 4000));
        expect(fs.existsSync(path.join(r2, "data/feed.json.gz"))).toBe(false);
        expect(fs.existsSync(path.join(r2, "js/app.js.gz"))).toBe(false);
        expect(gunzip(path.join(r2, "js/app.mjs.gz"))).toBe(text("module v2", 900));
        expect(gunzip(path.join(r2, "css/site.css.gz"))).toBe(text("css v2", 2000));
        expect(manifest(r2)).toEqual(["css/site.css.gz", "docs/guide/deep/page.html.gz", "js/app.mjs.gz", "vendor/lib.js.gz", "with space.css.gz", "ünïcode/fïle.svg.gz"]);
        // The site ships no .br: ours for index.html stays beside its own .gz.
        expect(manifest(r2, "br")).toEqual(["css/site.css.br", "docs/guide/deep/page.html.br", "index.html.br", "js/app.mjs.br", "vendor/lib.js.br", "with space.css.br", "ünïcode/fïle.svg.br"]);
        // The old release still serves its own generated files.
        expect(gunzip(path.join(r1, "index.html.gz"))).toBe(text("home v1", 3000));
        expect(gunzip(path.join(r1, "data/feed.json.gz"))).toBe(text("json v1", 600));
        expect(fs.existsSync(path.join(r1, "vendor/lib.js.gz"))).toBe(true);

        // The site stops shipping index.html.gz again: ours comes back.
        const v3 = host.origin.publish({ "index.html.gz": null });
        expect((await host.run("cron")).code).toBe(0);
        const r3 = path.join(host.siteRoot, host.currentTarget());
        expectReleaseEqualsArchive(host, r3, v3);
        expect(gunzip(path.join(r3, "index.html.gz"))).toBe(text("home v1", 3000));
        expect(manifest(r3)).toContain("index.html.gz");

        // The site starts shipping its own .br: ours goes, theirs is served as is.
        const v4 = host.origin.publish({ "css/site.css.br": zlib.brotliCompressSync("the site's own brotli") });
        expect((await host.run("cron")).code).toBe(0);
        const r4 = path.join(host.siteRoot, host.currentTarget());
        expectReleaseEqualsArchive(host, r4, v4);
        expect(unbrotli(path.join(r4, "css/site.css.br"))).toBe("the site's own brotli");
        expect(manifest(r4, "br")).not.toContain("css/site.css.br");
        expect(manifest(r4)).toContain("css/site.css.gz");
    });

    it("a release made before brotli (no .br manifest): the next deploy compresses every eligible file once", async () => {
        const host = newHost();
        host.origin.publish(siteV1());
        expect((await host.run("manual")).code).toBe(0);
        // What a release of the previous version looks like: no .br files and no .br manifest.
        for (const dir of [host.current, path.join(host.siteRoot, ".spare")]) {
            for (const br of manifest(dir, "br")) fs.rmSync(path.join(dir, br));
            fs.rmSync(path.join(dir, ".selfpages-br"));
        }
        const v2 = host.origin.publish({ "css/site.css": text("css v2", 1500) });
        expect((await host.run("cron")).code).toBe(0);
        const r2 = path.join(host.siteRoot, host.currentTarget());
        expectReleaseEqualsArchive(host, r2, v2);
        expect(manifest(r2, "br")).toEqual([...generatedV1.map(asBr), "vendor/lib.js.br"].sort());
        // The .gz files of unchanged sources are still shared.
        expect(inode(path.join(r2, "index.html.gz"))).toBe(inode(path.join(host.siteRoot, "releases", fs.readdirSync(path.join(host.siteRoot, "releases")).sort()[0], "index.html.gz")));
    });

    it("nothing new: cron logs `up to date` and builds nothing", async () => {
        const host = newHost();
        const sha = host.origin.publish(siteV1());
        expect((await host.run("manual")).code).toBe(0);
        const releases = host.releases();
        const objects = host.repoGit(["count-objects", "-v"]);
        const result = await host.run("cron");
        expect(result.code, result.stderr).toBe(0);
        expect(host.releases()).toEqual(releases);
        expect(host.repoGit(["count-objects", "-v"])).toBe(objects);
        expect(host.log()).toMatch(new RegExp(`Z sync\\[cron\\] up to date ${short(sha)}$`, "m"));
        expect(result.ms).toBeLessThan(2000);
    });

    it("ignores what is not a push to the branch of the repository (one log line, exit 0, nothing else), matches the repository case-insensitively", async () => {
        const host = newHost();
        host.origin.publish(siteV1());
        const cases: [string[], RegExp][] = [
            [["webhook", "ping", "", "do-it-ecm/do-it", "d-ping"], /sync\[webhook delivery=d-ping\] ignored: event 'ping' is not push$/m],
            [["webhook", "push", "refs/heads/main", "do-it-ecm/do-it", "d-branch"], /sync\[webhook delivery=d-branch\] ignored: ref 'refs\/heads\/main' is not refs\/heads\/gh-pages$/m],
            [["webhook", "push", "refs/heads/gh-pages", "someone/else", "d-repo"], /sync\[webhook delivery=d-repo\] ignored: repository 'someone\/else' is not do-it-ecm\/do-it$/m],
            [["webhook", "push", "refs/heads/gh-pages-x", "do-it-ecm/do-it", ""], /sync\[webhook\] ignored: ref 'refs\/heads\/gh-pages-x'/m],
            [["webhook", "push"], /sync\[webhook\] ignored: ref '' is not/m],
            // Untrusted values reach the log as one line of plain characters.
            [["webhook", "push", "refs/heads/x\nforged line", "do-it-ecm/do-it", "$(touch pwned)\n"], /sync\[webhook delivery=\?\?touch\?pwned\?\?\] ignored: ref 'refs\/heads\/x\?forged\?line'/m],
        ];
        for (const [args, line] of cases) {
            const result = await host.run(...args);
            expect(result.code, args.join(" ")).toBe(0);
            expect(host.log()).toMatch(line);
        }
        expect(host.logLineCount()).toBe(cases.length);
        expect(fs.existsSync(path.join(host.root, "pwned"))).toBe(false);
        expect(fs.existsSync(path.join(host.siteRoot, "releases"))).toBe(false);
        expect(fs.existsSync(path.join(host.siteRoot, "repo.git"))).toBe(false);
        expect(fs.existsSync(path.join(host.stateDir, "sync.pending"))).toBe(false);

        const result = await host.run("webhook", "push", "refs/heads/gh-pages", "Do-It-ECM/DO-IT", "d-case");
        expect(result.code, result.stderr).toBe(0);
        expect(host.outcomes()).toHaveLength(1);
        expect(host.outcomes()[0]).toMatch(/sync\[webhook delivery=d-case\] deployed/);
    });

    it("a delivery's pushed commit is fetched by its id beside an ls-remote; the branch's head is what is deployed", async () => {
        const host = newHost();
        const pushed = (delivery: string, after: string) => host.run(...push(delivery), after);
        const marksOf = (line: string) => line.replace(/^.* phases /, "").split(" ").map((m) => m.split("=")[0]);
        host.origin.publish(siteV1());
        expect((await host.run("manual")).code).toBe(0);

        // The head is the pushed commit: fetched by its id, with the milestones of any deploy.
        const v2 = host.origin.publish({ "index.html": text("home v2", 3000) });
        let result = await pushed("d-v2", v2);
        expect(result.code, result.stderr).toBe(0);
        expect(host.currentCommit()).toBe(v2);
        expect(gunzip(path.join(host.current, "index.html.gz"))).toBe(text("home v2", 3000));
        expect(host.repoGit(["rev-parse", "refs/remotes/origin/gh-pages"])).toBe(v2);
        const phases = host.log().split("\n").filter((line) => line.includes(" phases "));
        expect(marksOf(phases.at(-1)!)).toEqual(["start", "locked", "fetch", "fetched", "planned", "checkedout", "gz", "br", "switched", "finished"]);

        // A redelivery of an older push once the branch moved on: the head is deployed, not the older commit.
        const v3 = host.origin.publish({ "index.html": text("home v3", 3000) });
        result = await pushed("d-v2-again", v2);
        expect(result.code, result.stderr).toBe(0);
        expect(host.currentCommit()).toBe(v3);
        expect(host.repoGit(["rev-parse", "refs/remotes/origin/gh-pages"])).toBe(v3);
        // A redelivery of the served commit, or of an older one: up to date.
        for (const [delivery, after] of [["d-v3-again", v3], ["d-v2-third", v2]]) {
            result = await pushed(delivery, after);
            expect(result.code, result.stderr).toBe(0);
            expect(host.outcomes().at(-1)).toMatch(new RegExp(`sync\\[webhook delivery=${delivery}\\] up to date ${short(v3)}$`));
        }

        // A commit the origin does not have: the head is fetched after all.
        const v4 = host.origin.publish({ "index.html": text("home v4", 3000) });
        result = await pushed("d-unknown", "0123456789abcdef0123456789abcdef01234567");
        expect(result.code, result.stderr).toBe(0);
        expect(host.currentCommit()).toBe(v4);
        expect(result.stderr).not.toMatch(/error|fatal/);

        // The origin unreachable: the ls-remote's failure, with git's own reason; nothing changes.
        const v5 = host.origin.publish({ "index.html": text("home v5", 3000) });
        const moved = `${host.origin.bare}.moved`;
        fs.renameSync(host.origin.bare, moved);
        result = await pushed("d-gone", v5);
        fs.renameSync(moved, host.origin.bare);
        expect(result.code).toBe(1);
        expect(host.currentCommit()).toBe(v4);
        expect(host.log()).toMatch(new RegExp(`sync\\[webhook delivery=d-gone\\] error: ls-remote of gh-pages failed; still serving ${short(v4)}$`, "m"));
        expect(host.log()).toMatch(/sync\[webhook delivery=d-gone\] error: .*(does not appear to be a git repository|No such file)/m);

        // The branch deleted after the push: its commit is not deployed, the branch is said missing.
        execFileSync("git", ["--git-dir", host.origin.bare, "update-ref", "-d", "refs/heads/gh-pages"]);
        result = await pushed("d-deleted", v5);
        expect(result.code).toBe(1);
        expect(host.currentCommit()).toBe(v4);
        expect(host.log()).toMatch(/sync\[webhook delivery=d-deleted\] error: branch gh-pages not found at the origin$/m);
        execFileSync("git", ["--git-dir", host.origin.bare, "update-ref", "refs/heads/gh-pages", v5]);
        result = await pushed("d-v5", v5);
        expect(result.code, result.stderr).toBe(0);
        expect(host.currentCommit()).toBe(v5);
        expect(fs.readdirSync(host.stateDir).sort()).toEqual(["sync.lock"]);
    });

    it("usage errors exit 2 and touch nothing", async () => {
        const host = newHost();
        for (const args of [[], ["deploy"], ["cron", "extra"], ["manual", "x"], ["webhook", "push", "refs/heads/gh-pages", "do-it-ecm/do-it", "d", "a".repeat(40), "extra"]]) {
            const result = await host.run(...args);
            expect(result.code, args.join(" ")).toBe(2);
            expect(result.stderr).toMatch(/usage/);
        }
        expect(host.log()).toBe("");
        expect(fs.existsSync(host.stateDir)).toBe(false);
    });

    it("a failed fetch or checkout leaves current untouched, removes the half-built release, logs the error, exits non-zero", async () => {
        const host = newHost();
        const v1 = host.origin.publish(siteV1());
        expect((await host.run("manual")).code).toBe(0);
        const served = host.currentTarget();
        const v2 = host.origin.publish({ "index.html": text("home v2", 3000) });

        // The origin is gone.
        const moved = `${host.origin.bare}.moved`;
        fs.renameSync(host.origin.bare, moved);
        let result = await host.run("manual");
        expect(result.code).toBe(1);
        expect(host.currentTarget()).toBe(served);
        expect(host.releases()).toEqual([path.basename(served)]);
        expect(host.log()).toMatch(new RegExp(`sync\\[manual\\] error: ls-remote of gh-pages failed; still serving ${short(v1)}$`, "m"));
        // git's own reason, not a missing branch (a pipe used to hide ls-remote's failure).
        expect(host.log()).toMatch(/sync\[manual\] error: .*(does not appear to be a git repository|No such file)/m);
        expect(host.log()).not.toMatch(/branch gh-pages not found/);
        expect(host.log(), "no empty error line (git ends some messages with a blank line)").not.toMatch(/ error: *$/m);
        result = await host.run(...push("d-fail"));
        expect(result.code).toBe(1);
        fs.renameSync(moved, host.origin.bare);

        // The origin answers but the branch is gone (deleted, or a typo in the config).
        execFileSync("git", ["--git-dir", host.origin.bare, "update-ref", "-d", "refs/heads/gh-pages"]);
        result = await host.run("manual");
        expect(result.code).toBe(1);
        expect(host.currentTarget()).toBe(served);
        expect(host.log()).toMatch(/sync\[manual\] error: branch gh-pages not found at the origin$/m);
        execFileSync("git", ["--git-dir", host.origin.bare, "update-ref", "refs/heads/gh-pages", v2]);

        // The checkout fails half-way through the build (and a crashed sync left a release behind).
        const crashed = host.releaseDir("20000101T000000Z-deadbee");
        fs.mkdirSync(path.join(crashed, "css"), { recursive: true });
        fs.writeFileSync(path.join(crashed, "css/half.css"), "half");
        host.fail("read-tree", true);
        result = await host.run("cron");
        expect(result.code).toBe(1);
        expect(host.currentTarget()).toBe(served);
        expect(host.currentCommit()).toBe(v1);
        expect(host.releases()).toEqual([path.basename(served)]);
        expect(fs.existsSync(path.join(host.siteRoot, "current.new"))).toBe(false);
        expect(host.log()).toMatch(new RegExp(`sync\\[cron\\] error: checkout of ${short(v2)} into \\d{8}T\\d{6}Z-${short(v2)} failed; still serving ${short(v1)}$`, "m"));
        expect(host.log()).toMatch(/sync\[cron\] error: test double: git read-tree fails$/m);

        // Once the cause is gone, the next sync deploys.
        host.fail("read-tree", false);
        result = await host.run("cron");
        expect(result.code, result.stderr).toBe(0);
        expect(host.currentCommit()).toBe(v2);
        expectReleaseEqualsArchive(host, host.current, v2);
        expect(fs.readdirSync(host.stateDir).sort()).toEqual(["sync.lock"]);
    });

    it("a failed first deploy leaves no current link and no release, and no credential of the clone URL reaches the log", async () => {
        // Nothing listens on port 9 of the loopback: the connection is refused at once.
        const host = newHost({ cloneUrl: () => "http://x-access-token:s3cr3t-t0ken@127.0.0.1:9/do-it-ecm/do-it.git" });
        host.origin.publish(siteV1());
        const result = await host.run("manual");
        expect(result.code).toBe(1);
        expect(fs.existsSync(host.current)).toBe(false);
        expect(host.releases()).toEqual([]);
        expect(host.log()).toMatch(/sync\[manual\] error: ls-remote of gh-pages failed; still serving nothing$/m);
        expect(host.log()).toMatch(/sync\[manual\] error: .*127\.0\.0\.1/m);
        expect(host.log() + result.stderr).not.toContain("s3cr3t");
    });

    it("recovers from a killed sync: the half-built release and stale git locks go, the next sync deploys", async () => {
        const host = newHost();
        const v1 = host.origin.publish(siteV1());
        expect((await host.run("manual")).code).toBe(0);
        const served = host.currentTarget();
        const v2 = host.origin.publish({ "index.html": text("home v2", 3000) });

        host.pause("read-tree", true);
        const killed = host.start(["cron"], { detached: true });
        await host.waitPaused("read-tree");
        // The half-built release exists; kill the whole sync (the shell and the git it runs).
        expect(host.releases()).toHaveLength(2);
        process.kill(-killed.child.pid!, "SIGKILL");
        await killed.done;
        host.pause("read-tree", false);
        // What a git killed mid-fetch leaves behind.
        fs.writeFileSync(path.join(host.siteRoot, "repo.git/shallow.lock"), "");
        expect(host.currentTarget()).toBe(served);
        expect(host.currentCommit()).toBe(v1);

        const result = await host.run("cron");
        expect(result.code, result.stderr).toBe(0);
        expect(host.log()).toMatch(/sync\[cron\] recovering from a sync interrupted during checkout of/m);
        expect(host.currentCommit()).toBe(v2);
        expect(host.releases()).toHaveLength(2);
        expect(fs.existsSync(path.join(host.siteRoot, "repo.git/shallow.lock"))).toBe(false);
        expectReleaseEqualsArchive(host, host.current, v2);
    });

    it("an unusable index in the current release costs one full checkout, not a stuck site", async () => {
        const host = newHost();
        const v1 = host.origin.publish(siteV1());
        expect((await host.run("manual")).code).toBe(0);
        const r1 = fs.realpathSync(host.current);
        // Damaged in place, as a disk error would: the spare copy made for the next deploy shares the file.
        fs.writeFileSync(path.join(r1, ".selfpages-index"), "not an index");
        expect(inode(path.join(host.siteRoot, ".spare/.selfpages-index"))).toBe(inode(path.join(r1, ".selfpages-index")));
        const v2 = host.origin.publish({ "css/site.css": text("css v2", 1500), "docs/guide/small.txt": null });
        const result = await host.run("cron");
        expect(result.code, result.stderr).toBe(0);
        expect(host.log()).toMatch(/sync\[cron\] warning: the index of releases\/\S+ is unusable: full checkout$/m);
        expectReleaseEqualsArchive(host, host.current, v2);
        expectReleaseEqualsArchive(host, r1, v1);
        // The next one is incremental again.
        host.origin.publish({ "css/site.css": text("css v3", 1500) });
        const r2 = fs.realpathSync(host.current);
        expect((await host.run("cron")).code).toBe(0);
        expect(inode(path.join(host.current, "index.html"))).toBe(inode(path.join(r2, "index.html")));
    });

    it("starts a deploy from the spare copy the previous one left; a stale or missing spare costs a copy, never a wrong release", async () => {
        const host = newHost();
        const spare = path.join(host.siteRoot, ".spare");
        const marker = () => fs.readFileSync(path.join(spare, ".selfpages-spare"), "utf8").trim();
        host.origin.publish(siteV1());
        expect((await host.run("manual")).code).toBe(0);
        // A hardlink copy of the current release, named by its marker, which the release lacks.
        expect(marker()).toBe(host.currentTarget());
        expect(inode(path.join(spare, "index.html"))).toBe(inode(path.join(host.current, "index.html")));
        expect(fs.existsSync(path.join(host.current, ".selfpages-spare"))).toBe(false);

        // The next deploy moves the spare into place (same directory inode) and leaves a new one.
        const spareDir = inode(spare);
        const v2 = host.origin.publish({ "css/site.css": text("css v2", 1500) });
        expect((await host.run("cron")).code).toBe(0);
        const r2 = fs.realpathSync(host.current);
        expect(inode(r2)).toBe(spareDir);
        expectReleaseEqualsArchive(host, r2, v2);
        expect(fs.existsSync(path.join(r2, ".selfpages-spare"))).toBe(false);
        expect(marker()).toBe(host.currentTarget());
        expect(inode(path.join(spare, "css/site.css"))).toBe(inode(path.join(r2, "css/site.css")));

        // A spare of another release (an interrupted deploy, a hand-moved link) is not used.
        fs.writeFileSync(path.join(spare, ".selfpages-spare"), "releases/20000101T000000Z-0000000\n");
        fs.writeFileSync(path.join(spare, "stray.html"), "not in any commit");
        const v3 = host.origin.publish({ "js/app.js": text("js v3", 5000) });
        expect((await host.run("cron")).code).toBe(0);
        const r3 = fs.realpathSync(host.current);
        expectReleaseEqualsArchive(host, r3, v3);
        expect(inode(path.join(r3, "index.html"))).toBe(inode(path.join(r2, "index.html")));
        expect(fs.existsSync(path.join(spare, "stray.html"))).toBe(false);
        expect(marker()).toBe(host.currentTarget());

        // No spare, and a half-made one left behind: a copy as before, and the leftover goes.
        fs.rmSync(spare, { recursive: true });
        fs.mkdirSync(`${spare}.new`);
        fs.writeFileSync(path.join(`${spare}.new`, "half.html"), "half");
        const v4 = host.origin.publish({ "css/site.css": text("css v4", 1500) });
        expect((await host.run("cron")).code).toBe(0);
        const r4 = fs.realpathSync(host.current);
        expectReleaseEqualsArchive(host, r4, v4);
        expect(inode(path.join(r4, "index.html"))).toBe(inode(path.join(r3, "index.html")));
        expect(fs.existsSync(`${spare}.new`)).toBe(false);
        expect(marker()).toBe(host.currentTarget());
    });

    it("refuses a commit whose top-level files use the script's own .selfpages- names", async () => {
        const host = newHost();
        host.origin.publish({ ...siteV1(), ".selfpages-index": "mine" });
        const result = await host.run("manual");
        expect(result.code).toBe(1);
        expect(host.log()).toMatch(/error: the commit has top-level files named \.selfpages-\*/m);
        expect(host.releases()).toEqual([]);
    });

    it("moves the log aside past 1 MiB", async () => {
        const host = newHost();
        const sha = host.origin.publish(siteV1());
        fs.mkdirSync(path.dirname(host.logFile), { recursive: true });
        fs.writeFileSync(host.logFile, "old line\n".repeat(120_000));
        expect((await host.run("cron")).code).toBe(0);
        expect(fs.readFileSync(`${host.logFile}.1`, "utf8").startsWith("old line\n")).toBe(true);
        expect(host.log()).toMatch(new RegExp(`^\\S+ sync\\[cron\\] deployed ${short(sha)} \\(previous none\\) in \\d+s\n\\S+ sync\\[cron\\] phases [^\n]*\n$`));
    });

    it("switches atomically: a reader during six deploys only ever sees a complete index.html of a deployed commit", async () => {
        const host = newHost();
        const page = (n: number) => text(`home v${n}`, 200_000);
        host.origin.publish({ ...siteV1(), "index.html": page(1) });
        expect((await host.run("manual")).code).toBe(0);

        const expected = new Set([1, 2, 3, 4, 5, 6, 7].map((n) => createHash("md5").update(page(n)).digest("hex")));
        const stop = path.join(host.root, "stop-reader");
        const reader = host.spawnShell(
            `cur='${host.current}'; while [ ! -e '${stop}' ]; do ` +
                `sum=$(md5sum < "$cur/index.html" 2>/dev/null) || sum=MISSING; echo "$sum"; ` +
                `[ -f "$cur/.selfpages-complete" ] || echo INCOMPLETE; done`,
        );
        let out = "";
        reader.stdout!.on("data", (d) => (out += d));
        const readerDone = new Promise((resolve) => reader.once("close", resolve));

        for (let n = 2; n <= 7; n++) {
            host.origin.publish({ "index.html": page(n), [`page${n}.html`]: text(`page ${n}`, 500) });
            const result = await host.run(...push(`d${n}`));
            expect(result.code, result.stderr).toBe(0);
        }
        fs.writeFileSync(stop, "");
        await readerDone;

        const reads = out.split("\n").filter(Boolean).map((line) => line.split(" ")[0]);
        expect(reads.length).toBeGreaterThan(50);
        const unexpected = reads.filter((sum) => !expected.has(sum));
        expect(unexpected).toEqual([]);
        expect(new Set(reads).size).toBeGreaterThan(1);
        expect(fs.readFileSync(path.join(host.current, "index.html"), "utf8")).toBe(page(7));
    });

    it("lock: 20 deliveries during a running sync exit at once and cause exactly one more sync; the newest commit is served", async () => {
        const host = newHost();
        host.origin.publish(siteV1());
        expect((await host.run("manual")).code).toBe(0);
        const since = host.log().split("\n").length - 1;

        host.origin.publish({ "index.html": text("home v2", 3000) });
        host.pause("fetch", true);
        const holder = host.start(push("d-holder"));
        await host.waitPaused("fetch");

        const v3 = host.origin.publish({ "index.html": text("home v3", 3000) });
        const burst = await Promise.all([...Array(20).keys()].map((i) => host.run(...push(`d-burst-${i}`))).concat(host.run("cron")));
        for (const result of burst) {
            expect(result.code, result.stderr).toBe(0);
            expect(result.ms).toBeLessThan(3000);
            expect(result.stderr).toMatch(/queued: a running sync will sync once more/);
        }
        // The holder is still in its first sync.
        expect(holder.child.exitCode).toBeNull();
        host.pause("fetch", false);
        const held = await holder.done;
        expect(held.code, held.stderr).toBe(0);

        const outcomes = host.outcomes(since);
        expect(outcomes).toHaveLength(2);
        expect(outcomes.every((line) => line.includes("sync[webhook delivery=d-holder]"))).toBe(true);
        expect(host.currentCommit()).toBe(v3);
        expect(host.log().split("\n").slice(since).filter((line) => line.includes(" queued: "))).toHaveLength(21);
        expect(fs.existsSync(path.join(host.stateDir, "sync.pending"))).toBe(false);
    });

    it("lock: manual waits for a running sync, then runs its own and reports it", async () => {
        const host = newHost();
        host.origin.publish(siteV1());
        expect((await host.run("manual")).code).toBe(0);
        const since = host.log().split("\n").length - 1;

        const v2 = host.origin.publish({ "index.html": text("home v2", 3000) });
        host.pause("fetch", true);
        const holder = host.start(push("d-holder"));
        await host.waitPaused("fetch");
        const manual = host.start(["manual"]);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        expect(manual.child.exitCode).toBeNull();
        host.pause("fetch", false);
        const [h, m] = await Promise.all([holder.done, manual.done]);
        expect(h.code, h.stderr).toBe(0);
        expect(m.code, m.stderr).toBe(0);
        expect(host.outcomes(since).map((line) => line.replace(/^\S+ /, ""))).toEqual([
            expect.stringMatching(`^sync\\[webhook delivery=d-holder\\] deployed ${short(v2)}`),
            `sync[manual] up to date ${short(v2)}`,
        ]);
    });

    it("keeps keepReleases releases (current included) and removes half-built ones", async () => {
        const host = newHost({ keepReleases: 2 });
        const shas: string[] = [];
        shas.push(host.origin.publish(siteV1()));
        expect((await host.run("manual")).code).toBe(0);
        for (let n = 2; n <= 5; n++) {
            shas.push(host.origin.publish({ "css/site.css": text(`css v${n}`, 1500) }));
            if (n === 4) fs.mkdirSync(host.releaseDir("20991231T235959Z-0000000"));
            const result = await host.run("cron");
            expect(result.code, result.stderr).toBe(0);
        }
        const releases = host.releases();
        expect(releases).toHaveLength(2);
        expect(releases.map((name) => name.slice(-7))).toEqual(shas.slice(-2).map(short));
        expect(host.currentTarget()).toBe(`releases/${releases[1]}`);
        // Names sort in deploy order even within one second.
        expect(releases[0] < releases[1]).toBe(true);
        // The previous release is complete and untouched.
        expectReleaseEqualsArchive(host, host.releaseDir(releases[0]), shas[3]);
    });

    it("costs what changed: a 1-file change on a 2000-file site adds a few hundred KB, not a copy of the site", async () => {
        const host = newHost();
        const files: Record<string, string | Buffer> = {};
        for (let i = 0; i < 1900; i++) files[`media/${Math.floor(i / 100)}/m${i}.png`] = binary(10_000, i + 1);
        for (let i = 0; i < 100; i++) files[`pages/p${i}.html`] = text(`page ${i}`, 4000);
        host.origin.publish(files);
        const du = (dir: string) => Number(execFileSync("du", ["-sk", dir], { encoding: "utf8" }).split("\t")[0]);

        const first = await host.run("manual");
        expect(first.code, first.stderr).toBe(0);
        const release = du(fs.realpathSync(host.current));
        const before = du(host.siteRoot);
        host.origin.publish({ "pages/p7.html": text("page 7 v2", 4000) });
        const second = await host.run("cron");
        expect(second.code, second.stderr).toBe(0);
        const grown = du(host.siteRoot) - before;
        const upToDate = await host.run("cron");
        console.log(
            `sync under ${shell.name}, 2000 files (${release} KB a release): first deploy ${first.ms} ms; ` +
                `1-file change ${second.ms} ms, +${grown} KB on disk (a full copy: +${release} KB); up to date ${upToDate.ms} ms`,
        );
        // Directories, the index and the manifest are new; file contents are not.
        expect(grown).toBeLessThan(release / 20);
        expect(host.releases()).toHaveLength(2);
    });

    it("precompresses thousands of files with a few processes (not one gzip and one touch per file), and shares an unchanged manifest", async () => {
        const host = newHost();
        // Counting stand-ins for gzip and touch, first on PATH, running the shell's own tool.
        const calls = path.join(host.control, "calls");
        for (const tool of ["gzip", "touch", "brotli"]) {
            const real = shell.path.length > 0 ? path.join(shell.path[0], tool) : which(tool);
            // The script gzips an empty file to learn which gzip it is: not a compression of the site.
            fs.writeFileSync(path.join(host.root, "double", tool), `#!/bin/sh\ncase "$*" in *.p) ;; *) echo ${tool} >>'${calls}' ;; esac\nexec '${real}' "$@"\n`, { mode: 0o755 });
        }
        const count = (tool: string) => (fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").split("\n").filter((l) => l === tool).length : 0);
        const files: Record<string, string | Buffer> = {};
        for (let i = 0; i < 3000; i++) files[`pages/${i % 30}/page ${i}.html`] = text(`page ${i}`, 400 + (i % 7) * 300);
        for (let i = 0; i < 20; i++) files[`img/i${i}.png`] = binary(3000, i + 1);
        host.origin.publish(files);

        const first = await host.run("manual");
        expect(first.code, first.stderr).toBe(0);
        const r1 = path.join(host.siteRoot, host.currentTarget());
        expect(manifest(r1)).toHaveLength(3000);
        for (let i = 0; i < 3000; i += 97) {
            const source = path.join(r1, `pages/${i % 30}/page ${i}.html`);
            expect(gunzip(`${source}.gz`), source).toBe(fs.readFileSync(source, "utf8"));
            expect(seconds(`${source}.gz`), `${source}.gz mtime`).toBe(seconds(source));
        }
        // Batches of command-line length: well under one process per 100 files.
        expect(count("gzip")).toBeGreaterThan(0);
        expect(count("gzip")).toBeLessThan(30);
        expect(count("touch")).toBeLessThan(30);
        expect(count("brotli")).toBeGreaterThan(0);
        expect(count("brotli")).toBeLessThan(30);
        expect(manifest(r1, "br")).toHaveLength(3000);
        for (let i = 0; i < 3000; i += 97) {
            const source = path.join(r1, `pages/${i % 30}/page ${i}.html`);
            expect(unbrotli(`${source}.br`), source).toBe(fs.readFileSync(source, "utf8"));
            expect(seconds(`${source}.br`), `${source}.br mtime`).toBe(seconds(source));
        }
        console.log(`precompression under ${shell.name}: 3000 files with ${count("gzip")} gzip, ${count("touch")} touch and ${count("brotli")} brotli processes`);
        // A checkout of more than 1000 files: the spare's index was written a second after
        // every file, so git finds no racily clean entry to re-read at the next push.
        const spareIndex = path.join(host.siteRoot, ".spare/.selfpages-index");
        expect(inode(spareIndex)).not.toBe(inode(path.join(r1, ".selfpages-index")));
        const newestFile = Math.max(...[...snapshot(r1, (rel) => rel.startsWith(".selfpages-")).keys()].map((rel) => seconds(path.join(r1, rel))));
        expect(seconds(spareIndex)).toBeGreaterThan(newestFile);

        // One changed page: one gzip; the same set of .gz files, so the same manifest inode.
        fs.rmSync(calls);
        host.origin.publish({ "pages/7/page 7.html": text("page 7 v2", 2000) });
        expect((await host.run("cron")).code).toBe(0);
        const r2 = path.join(host.siteRoot, host.currentTarget());
        expect(count("gzip")).toBe(1);
        expect(count("brotli")).toBe(1);
        expect(inode(path.join(r2, ".selfpages-br"))).toBe(inode(path.join(r1, ".selfpages-br")));
        expect(gunzip(path.join(r2, "pages/7/page 7.html.gz"))).toBe(text("page 7 v2", 2000));
        expect(seconds(path.join(r2, "pages/7/page 7.html.gz"))).toBe(seconds(path.join(r2, "pages/7/page 7.html")));
        expect(inode(path.join(r2, ".selfpages-gz"))).toBe(inode(path.join(r1, ".selfpages-gz")));
        // A small deploy does not wait a second to refresh the spare's index: it is the release's.
        expect(inode(path.join(host.siteRoot, ".spare/.selfpages-index"))).toBe(inode(path.join(r2, ".selfpages-index")));
        // Only the current release keeps a git index.
        expect(fs.existsSync(path.join(r1, ".selfpages-index"))).toBe(false);
        expect(fs.existsSync(path.join(r2, ".selfpages-index"))).toBe(true);

        // A new page: a new manifest; the previous release's stays as it was.
        const v3 = host.origin.publish({ "pages/new.html": text("new page", 1000) });
        expect((await host.run("cron")).code).toBe(0);
        const r3 = path.join(host.siteRoot, host.currentTarget());
        expectReleaseEqualsArchive(host, r3, v3);
        expect(inode(path.join(r3, ".selfpages-gz"))).not.toBe(inode(path.join(r2, ".selfpages-gz")));
        expect(manifest(r3)).toHaveLength(3001);
        expect(manifest(r2)).toHaveLength(3000);
    });

    it("keeps the clone one commit deep: garbage of replaced commits is pruned, and repacked away once it is a third of the store", async () => {
        const host = newHost();
        // Over git's unpack limit (100 objects): the first fetch stays a pack, as a real site's would.
        const pages = (v: number) => Object.fromEntries([...Array(150).keys()].map((i) => [`p/${i}.png`, binary(3000, i * 10 + v)]));
        host.origin.publish(pages(1));
        expect((await host.run("manual")).code).toBe(0);
        const objects = () => {
            const reachable = new Set(host.repoGit(["rev-list", "--objects", "--all"]).split("\n").map((line) => line.split(" ")[0]));
            const all = host.repoGit(["cat-file", "--batch-all-objects", "--batch-check=%(objectname)"]).split("\n");
            const objectsDir = path.join(host.siteRoot, "repo.git/objects");
            const loose = fs.readdirSync(objectsDir).filter((d) => /^[0-9a-f]{2}$/.test(d)).flatMap((d) => fs.readdirSync(path.join(objectsDir, d)).map((f) => d + f));
            const packs = fs.readdirSync(path.join(objectsDir, "pack")).filter((f) => f.endsWith(".pack")).length;
            return { reachable, unreachable: all.filter((o) => !reachable.has(o)), loose, packs };
        };

        let last = "";
        for (let n = 2; n <= 4; n++) {
            last = host.origin.publish({ [`p/${n}.png`]: binary(3000, 1000 + n), [`n${n}.html`]: text(`n${n}`, 400) });
            expect((await host.run("cron")).code).toBe(0);
        }
        expect(fs.readFileSync(path.join(host.siteRoot, "repo.git/shallow"), "utf8").trim()).toBe(last);
        expect(host.repoGit(["rev-list", "--all", "--count"])).toBe("1");
        let now = objects();
        // Small fetches arrive loose, and their garbage is pruned at once; what is left over sits
        // in the first clone's pack, below the repack threshold.
        expect(now.loose.length).toBeGreaterThan(0);
        expect(now.loose.filter((o) => !now.reachable.has(o))).toEqual([]);
        expect(now.unreachable.length).toBeGreaterThan(0);
        expect(now.unreachable.length).toBeLessThan(now.reachable.size / 3);
        expect(now.packs).toBe(1);

        // A rebuild that changes every page: the first pack is now mostly garbage and is repacked away.
        last = host.origin.publish(pages(5));
        expect((await host.run("cron")).code).toBe(0);
        now = objects();
        expect(now.unreachable).toEqual([]);
        expect(now.packs).toBe(1);
        expect(host.currentCommit()).toBe(last);
    });
});

// Memory is the shell's no concern: one shell is enough, and the site is large.
describe("sync script memory", () => {
    const time = fs.existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
    const dash = dashShell();

    it("keeps git's mapped pack windows small: checking out and measuring a 64 MB commit stays under 52 MB of RSS", async () => {
        if (!time || !dash) {
            console.warn("GNU time or dash missing: skipping the sync's memory test");
            return;
        }
        const host = new SyncHost(dash);
        hosts.push(host);
        // The peak RSS of every git the script runs, with its command line.
        const rss = path.join(host.control, "rss");
        const realGit = which("git")!;
        fs.writeFileSync(path.join(host.root, "double", "git"), `#!/bin/sh\nexec ${time} -a -o '${rss}' -f '%M %C' ${realGit} "$@"\n`, { mode: 0o755 });
        // Random bytes: the pack is as large as the site. No delta search when publishing (it finds nothing in random data, slowly).
        execFileSync(realGit, ["-C", host.origin.work, "config", "pack.window", "0"]);
        const files: Record<string, Buffer> = {};
        // Over git's unpack limit (100 objects): the fetch keeps one pack, as for a real site.
        for (let i = 0; i < 160; i++) files[`media/${i % 8}/m${i}.jpg`] = crypto.randomBytes(400 << 10);
        host.origin.publish(files);
        const result = await host.run("manual");
        expect(result.code, result.stderr).toBe(0);
        const peaks = fs
            .readFileSync(rss, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((line) => ({ kib: Number(line.split(" ")[0]), command: line.slice(line.indexOf(" ") + 1) }));
        const of = (sub: string) => peaks.filter((p) => p.command.includes(` ${sub} `));
        // Both read every object of the pack: mapped whole, each would hold 70 MB or more.
        expect(of("read-tree")).toHaveLength(1);
        expect(of("rev-list")).toHaveLength(1);
        for (const p of [...of("read-tree"), ...of("rev-list")]) expect(p.kib, p.command).toBeLessThan(52 * 1024);
        console.log(`sync memory, 64 MB commit: read-tree ${Math.round(of("read-tree")[0].kib / 1024)} MB, rev-list ${Math.round(of("rev-list")[0].kib / 1024)} MB`);
    });
});
