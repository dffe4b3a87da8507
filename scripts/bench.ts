/**
 * `npm run bench`: measures the deployed system on a sandbox host and writes bench/results.json,
 * then prints a table. Every figure comes from this one run; baselines beside them are measured
 * in the same run where the old system's behaviour can be reproduced (on-the-fly gzip level 2,
 * a full copy per release, answering only after the sync).
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeBigSite } from "../sandbox/bigSite";
import { buildSandbox, type Sandbox as SandboxEnvironment } from "../sandbox/build";
import { hostExec } from "../sandbox/hostInstance";
import { receiverGoMemLimit } from "../lib/hostFiles";
import { repoRoot } from "../toolchain/env";
import { cpuSeconds, descendants, listProcs, type Proc, rssPssKiB, sampled, statusKiB, type TreeFigures } from "./procTree";
import { percentile, served, sleep, syncLog, waitServed } from "./bench/common";
import { manySites } from "./bench/manySites";
import { fleet } from "./bench/fleet";
import { pushToServed } from "./bench/pushToServed";
import { pythonDocs } from "./bench/realSite";

const resultsFile = path.join(repoRoot, "bench", "results.json");
const mib = (kib: number) => Number((kib / 1024).toFixed(1));

const countSyncs = (lines: string[]) => lines.filter((l) => / (deployed|up to date) /.test(l)).length;

async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
    const started = Date.now();
    const result = await run();
    return [result, (Date.now() - started) / 1000];
}

/** The Automation API's `pulumi` child of this process: the CLI and everything it starts. */
const pulumiTree = (procs: Map<number, Proc>) => [...procs.values()].filter((p) => p.ppid === process.pid && p.comm === "pulumi").map((p) => p.pid);

/** Peak RSS of the largest process and of the whole tree, in MiB, from a sampled run. */
function memoryFigures(tree: TreeFigures) {
    return {
        largestProcess: tree.largest.name,
        largestPeakRssMiB: mib(tree.largest.peakKiB),
        largestPeakAnonMiB: mib(tree.largest.peakAnonKiB),
        treePeakRssSumMiB: mib(tree.peakSumRssKiB),
        treePeakAnonSumMiB: mib(tree.peakSumAnonKiB),
        peakRssMiBByProcess: Object.fromEntries(Object.entries(tree.peakByNameKiB).map(([name, kib]) => [name, mib(kib)])),
        processes: tree.processesSeen,
        samples: tree.samples,
        sampleIntervalMs: tree.intervalMs,
    };
}

async function pulumiFigures(env: SandboxEnvironment) {
    const [, upFromBare] = await timed(() => env.stack.up());
    const [[noop, noopTree], upNoop] = await timed(() => sampled("no-op pulumi up", pulumiTree, () => env.stack.up()));
    const [[, previewTree], previewNoop] = await timed(() => sampled("pulumi preview", pulumiTree, () => env.stack.preview()));
    const changed = Object.entries(noop.summary.resourceChanges ?? {}).filter(([op]) => op !== "same");
    for (const [what, tree] of [["no-op up", noopTree], ["preview", previewTree]] as const) {
        if (!Object.keys(tree.peakByNameKiB).includes("pulumi")) throw new Error(`${what}: the pulumi CLI was never sampled`);
    }
    return {
        upFromBareSeconds: upFromBare,
        upNoopSeconds: upNoop,
        previewNoopSeconds: previewNoop,
        noopChanges: changed.length,
        upNoopMemory: memoryFigures(noopTree),
        previewMemory: memoryFigures(previewTree),
    };
}

/** A change big enough that its sync takes seconds: many new text files to check out and gzip. */
function bigChange(files: number): Record<string, string> {
    const change: Record<string, string> = {};
    for (let i = 0; i < files; i++) change[`bulk/page-${i}.html`] = `<html><body>${`<p>bench page ${i} ${crypto.randomBytes(64).toString("hex")}</p>`.repeat(20)}</body></html>\n`;
    return change;
}

async function answerDuringSlowSync(env: SandboxEnvironment) {
    const token = crypto.randomBytes(6).toString("hex");
    const sha = env.publisher.publish({ ...bigChange(3000), "version.txt": token }, "bench: big change");
    const started = Date.now();
    await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
    const answers: number[] = [];
    let done = false;
    const servedAfter = waitServed(env, token, 300_000, 100).then((ms) => ((done = true), ms));
    while (!done) {
        const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        if (delivery.status_code !== 202) throw new Error(`delivery during sync answered ${delivery.status_code}`);
        answers.push(delivery.duration * 1000);
        await sleep(100);
    }
    await servedAfter;
    const syncMs = Date.now() - started;
    return {
        deliveriesDuringSync: answers.length,
        answerP50Ms: percentile(answers, 50),
        answerP95Ms: percentile(answers, 95),
        // The seed's receiver ran the sync before answering: its answer time was the sync's.
        baselineAnswerMs: syncMs,
        syncMs,
        githubTimeoutMs: 10_000,
    };
}

async function burst(env: SandboxEnvironment, deliveries: number) {
    const token = crypto.randomBytes(6).toString("hex");
    const sha = env.publisher.publish({ "version.txt": token }, "bench: burst");
    const before = countSyncs(syncLog(env));
    const results = await Promise.all(Array.from({ length: deliveries }, () => env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha })));
    const statuses = results.flat().map((d) => d.status_code);
    await waitServed(env, token, 60_000);
    // Let any coalesced follow-up sync finish before counting.
    let count = countSyncs(syncLog(env)) - before;
    for (let quiet = 0; quiet < 3; ) {
        await sleep(1000);
        const now = countSyncs(syncLog(env)) - before;
        quiet = now === count ? quiet + 1 : 0;
        count = now;
    }
    return { deliveries, answered2xx: statuses.filter((s) => s >= 200 && s < 300).length, syncs: count, newestServed: (await served(env, "/version.txt")) === token };
}

function wrk(url: string, acceptEncoding = "gzip"): { requestsPerSecond: number } {
    const out = execFileSync("wrk", ["-t2", "-c16", "-d5s", "-H", `Accept-Encoding: ${acceptEncoding}`, url], { encoding: "utf8" });
    return { requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0) };
}

/** Body bytes sent for `acceptEncoding`; fails unless nginx chose `expected` as the Content-Encoding. */
function bytesSent(url: string, acceptEncoding: string, expected: string): number {
    const out = execFileSync("curl", ["-s", "-o", "/dev/null", "-D", "-", "-w", "%{size_download}", "-H", `Accept-Encoding: ${acceptEncoding}`, url], { encoding: "utf8" });
    const encoding = /^content-encoding: *(\S+)/im.exec(out)?.[1] ?? "identity";
    if (encoding !== expected) throw new Error(`${url} with Accept-Encoding: ${acceptEncoding} came ${encoding}, not ${expected}`);
    return Number(out.trim().split("\n").at(-1));
}

/** Our gzip_static config against the seed's on-the-fly gzip (level 2), same files, same nginx. */
async function nginxLoad(env: SandboxEnvironment) {
    const seedPort = 8081;
    hostExec(
        env.host.name,
        `cat > /etc/nginx/conf.d/zz-bench-seed-gzip.conf <<'EOF'
server {
    listen ${seedPort};
    root /srv/selfpages/sites/selfpages/current;
    gzip on;
    gzip_static off;
    gzip_comp_level 2;
    gzip_min_length 1000;
    gzip_types text/html text/css application/javascript;
    gzip_vary on;
}
EOF
nginx -t -q && rc-service nginx reload >/dev/null`,
    );
    try {
        const files = { html: "/index.html", css: "/style.css", js: "/assets/app.3f2a1b9c.js" };
        const figures: Record<string, unknown> = {};
        for (const [kind, file] of Object.entries(files)) {
            const ours = `${env.siteUrl}${file}`;
            const seed = `http://${env.host.address}:${seedPort}${file}`;
            const oursRun = wrk(ours);
            const seedRun = wrk(seed);
            // A browser's header: brotli_static answers with the .br.
            const brRun = wrk(ours, "gzip, deflate, br");
            const oursBytes = bytesSent(ours, "gzip", "gzip");
            const seedBytes = bytesSent(seed, "gzip", "gzip");
            const brBytes = bytesSent(ours, "gzip, deflate, br", "br");
            figures[kind] = {
                precompressedRps: oursRun.requestsPerSecond,
                onTheFlyLevel2Rps: seedRun.requestsPerSecond,
                rpsRatio: Number((oursRun.requestsPerSecond / seedRun.requestsPerSecond).toFixed(2)),
                precompressedBytes: oursBytes,
                onTheFlyLevel2Bytes: seedBytes,
                bytesRatio: Number((oursBytes / seedBytes).toFixed(3)),
                identityBytes: bytesSent(ours, "identity", "identity"),
                brotliStaticRps: brRun.requestsPerSecond,
                brotliStaticBytes: brBytes,
                brOverGzipStaticBytes: Number((brBytes / oursBytes).toFixed(3)),
                brOverGzipStaticRps: Number((brRun.requestsPerSecond / oursRun.requestsPerSecond).toFixed(2)),
            };
        }
        return figures;
    } finally {
        hostExec(env.host.name, "rm -f /etc/nginx/conf.d/zz-bench-seed-gzip.conf && rc-service nginx reload >/dev/null");
    }
}

/** Waits for the workers an nginx reload retired (they finish their connections first). */
async function nginxSettled(env: SandboxEnvironment): Promise<void> {
    for (let i = 0; i < 100; i++) {
        if (Number(hostExec(env.host.name, "ps -eo args= | grep -c '^nginx: worker process is shutting down' || true").trim()) === 0) return;
        await sleep(100);
    }
    throw new Error("nginx workers still shutting down 10 s after a reload");
}

function footprint(env: SandboxEnvironment) {
    const rssKiB = (pattern: string) =>
        hostExec(env.host.name, `ps -eo rss=,comm= | awk '$2 ~ /${pattern}/ {s += $1} END {print s + 0}'`)
            .trim()
            .split("\n")
            .map(Number)[0];
    const du = (args: string) => Number(hostExec(env.host.name, `du -sk ${args} | cut -f1`).trim());
    const releases = Number(hostExec(env.host.name, "ls /srv/selfpages/sites/selfpages/releases | wc -l").trim());
    return {
        receiverRssKiB: rssKiB("^webhook$"),
        nginxRssKiB: rssKiB("^nginx"),
        releases,
        releasesDiskKiB: du("/srv/selfpages/sites/selfpages/releases"),
        // The same releases as full copies (what a copy-per-deploy layout would use).
        releasesAsCopiesKiB: du("--count-links /srv/selfpages/sites/selfpages/releases"),
        cloneDiskKiB: du("/srv/selfpages/sites/selfpages/repo.git"),
    };
}

// ---- A big site: about 300 MB in 20 000 files ---------------------------------------------

const bigSiteFiles = 20_000;
const bigSiteBytes = 300e6;

const launcherPids = new Map<string, number>();

/** PID (here) of the sandbox host's launcher: every process of the host descends from it. */
function hostLauncherPid(env: SandboxEnvironment): number {
    let pid = launcherPids.get(env.host.name);
    if (pid === undefined) {
        pid = Number(fs.readFileSync(path.join(path.dirname(env.host.rootfs), "init.pid"), "utf8").trim());
        launcherPids.set(env.host.name, pid);
    }
    return pid;
}

/** Processes of the host that `match`, by comm. */
function hostProcesses(env: SandboxEnvironment, procs: Map<number, Proc>, match: (comm: string) => boolean): Proc[] {
    return descendants(procs, [hostLauncherPid(env)])
        .map((pid) => procs.get(pid)!)
        .filter((p) => p !== undefined && match(p.comm));
}

/** Every running sync script of the host (comm is the script's name), the roots of what to sample. */
const syncRoots = (env: SandboxEnvironment) => (procs: Map<number, Proc>) => hostProcesses(env, procs, (c) => c === "sync").map((p) => p.pid);

/**
 * Waits until no sync has run for `quietMs` (the work after the switch: pruning, the spare copy,
 * git maintenance); returns when one was last seen running.
 */
async function waitSyncsDone(env: SandboxEnvironment, timeoutMs: number, quietMs = 500): Promise<number> {
    const started = Date.now();
    let lastSeen = Date.now();
    while (Date.now() - started < timeoutMs) {
        if (syncRoots(env)(listProcs()).length > 0) lastSeen = Date.now();
        else if (Date.now() - lastSeen >= quietMs) return lastSeen;
        await sleep(20);
    }
    throw new Error(`a sync still ran after ${timeoutMs} ms`);
}

/** Polls `file` (gzip accepted, as a browser does) until its body contains `token`; ms taken. */
async function waitBodyContains(env: SandboxEnvironment, file: string, token: string, timeoutMs: number, pollMs: number): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
        const body = await fetch(`${env.siteUrl}${file}`, { headers: { "Accept-Encoding": "gzip" }, signal: AbortSignal.timeout(5000) })
            .then((r) => r.text())
            .catch(() => "");
        if (body.includes(token)) return Date.now() - started;
        await sleep(pollMs);
    }
    throw new Error(`${file} did not serve ${token} within ${timeoutMs} ms`);
}

/** KiB used by each path, in order, counting a file shared with an earlier path only there. */
function duInOrder(env: SandboxEnvironment, paths: string[]): number[] {
    return hostExec(env.host.name, `du -sk ${paths.map((p) => `'${p}'`).join(" ")}`)
        .trim()
        .split("\n")
        .map((line) => Number(line.split("\t")[0]));
}

const siteRoot = "/srv/selfpages/sites/selfpages";

/** Releases on the host, oldest first. */
function releases(env: SandboxEnvironment): string[] {
    return hostExec(env.host.name, `ls ${siteRoot}/releases`).trim().split("\n").filter(Boolean).sort();
}

async function push(env: SandboxEnvironment, sha: string): Promise<void> {
    const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
    if (delivery.status_code !== 202) throw new Error(`delivery answered ${delivery.status_code}`);
}

async function bigSite(env: SandboxEnvironment, changes: number, sampledChanges: number) {
    // The generated site replaces what the branch holds (the small site and the bench's pages).
    const token = crypto.randomBytes(6).toString("hex");
    const [{ sha, result: site }, publishSeconds] = await timed(async () =>
        env.publisher.publishGenerated((dir) => {
            fs.writeFileSync(path.join(dir, "version.txt"), token);
            return writeBigSite(dir, { files: bigSiteFiles, bytes: bigSiteBytes });
        }, "bench: big site"),
    );
    const started = Date.now();
    const [[firstServedMs, syncEnded], firstTree] = await sampled("first deploy of the big site", syncRoots(env), async () => {
        await push(env, sha);
        await waitServed(env, token, 600_000, 100);
        const ms = Date.now() - started;
        // Sampled to the end: pruning, the spare copy and git maintenance come after the switch.
        return [ms, await waitSyncsDone(env, 600_000)] as const;
    });
    const firstSyncSeconds = (syncEnded - started) / 1000;

    // The load really reached the host: the release holds the generated files, and their .gz.
    const current = `${siteRoot}/current/`;
    const [releaseFiles, gzFiles, brFiles] = hostExec(env.host.name, `cd ${current} && find . -type f ! -name '.selfpages-*' | awk '/\\.gz$/ { g++; next } /\\.br$/ { b++; next } { f++ } END { print f + 0, g + 0, b + 0 }'`)
        .trim()
        .split(" ")
        .map(Number);
    // The generated files and version.txt, nothing less, nothing left over.
    if (releaseFiles !== site.files + 1) throw new Error(`the release holds ${releaseFiles} files, not the ${site.files} generated and version.txt`);
    if (gzFiles < site.textFiles * 0.9) throw new Error(`only ${gzFiles} .gz files for ${site.textFiles} text files`);
    if (brFiles !== gzFiles) throw new Error(`${brFiles} .br files for ${gzFiles} .gz files`);
    const [siteRootKiB] = duInOrder(env, [siteRoot]);
    const [cloneKiB, releaseKiB] = duInOrder(env, [`${siteRoot}/repo.git`, current]);
    const directories = Number(hostExec(env.host.name, `find ${current} -type d | wc -l`).trim());
    // What a release cannot share with another: its directories (hardlinks share files only) and its git index.
    const directoriesKiB = Math.ceil(Number(hostExec(env.host.name, `find ${current} -type d -printf '%b\\n' | awk '{ s += $1 } END { print s + 0 }'`).trim()) / 2);
    const indexKiB = () => duInOrder(env, [`${current}.selfpages-index`])[0];

    // A server at rest gets the next push: the first deploy's 600 MB of writeback are done first
    // (the kernel would have done it within 30 s; pushes come minutes apart).
    execFileSync("sync");
    await sleep(2000);

    // One-file changes: one HTML page (precompressed) carrying a new token each time. The timed
    // ones run unobserved; the memory of the sync is sampled in the last ones (polling /proc every
    // 20 ms takes CPU from a 2-core machine while the sync runs).
    const page = site.samplePages[0];
    const samples: Array<{ servedMs: number; releaseOwnKiB: number; spareKiB: number; siteRootGrowthKiB: number; tree?: TreeFigures }> = [];
    for (let i = 0; i < changes + sampledChanges; i++) {
        const pageToken = `change-${i}-${crypto.randomBytes(6).toString("hex")}`;
        const content = `<!doctype html><html><head><title>${pageToken}</title></head><body>${`<p>${pageToken}: one page changed.</p>`.repeat(40)}</body></html>\n`;
        const changeSha = env.publisher.publish({ [page]: content }, `bench: one page ${i}`);
        const before = releases(env);
        const [rootBefore] = duInOrder(env, [siteRoot]);
        // The oldest release may be pruned by this sync: what only it holds is freed then.
        const onlyInOldest = duInOrder(env, [`${siteRoot}/repo.git`, `${siteRoot}/.spare`, ...before.slice(1).map((n) => `${siteRoot}/releases/${n}`), `${siteRoot}/releases/${before[0]}`]).at(-1)!;
        const deploy = async () => {
            const t0 = Date.now();
            await push(env, changeSha);
            await waitBodyContains(env, `/${page}`, pageToken, 60_000, 20);
            const ms = Date.now() - t0;
            await waitSyncsDone(env, 60_000);
            return ms;
        };
        const [servedMs, tree] = i < changes ? [await deploy(), undefined] : await sampled("a one-file change", syncRoots(env), deploy);
        const names = releases(env);
        // du counts a file once, where first met: the newest release's line is what it shares
        // with neither the clone nor an older release; the spare (a copy of it) comes last.
        const perPath = duInOrder(env, [`${siteRoot}/repo.git`, ...names.map((n) => `${siteRoot}/releases/${n}`), `${siteRoot}/.spare`]);
        const [rootAfter] = duInOrder(env, [siteRoot]);
        const pruned = !names.includes(before[0]);
        samples.push({ servedMs, releaseOwnKiB: perPath.at(-2)!, spareKiB: perPath.at(-1)!, siteRootGrowthKiB: rootAfter - rootBefore + (pruned ? onlyInOldest : 0), tree });
        await sleep(1000);
    }
    // The gzip variant was served: nginx answered the changed page from its .gz.
    const encoding = execFileSync("curl", ["-s", "-o", "/dev/null", "-D", "-", "-H", "Accept-Encoding: gzip", `${env.siteUrl}/${page}`], { encoding: "utf8" });
    if (!/^content-encoding: gzip/im.test(encoding)) throw new Error(`the changed page was not served gzip-encoded:\n${encoding}`);

    const kept = releases(env);
    const [threeReleasesAndClone] = duInOrder(env, [siteRoot]);
    // The same releases as full copies (a copy-per-deploy layout), the clone beside them.
    const [asCopies] = hostExec(env.host.name, `du -sk --count-links ${siteRoot}/releases`).trim().split("\t").map(Number);
    const servedMs = samples.slice(0, changes).map((x) => x.servedMs);
    const trees = samples.flatMap((x) => (x.tree ? [x.tree] : []));
    if (trees.length !== sampledChanges) throw new Error(`${trees.length} sampled changes, not ${sampledChanges}`);
    const own = samples.map((x) => x.releaseOwnKiB);
    // Growth of the whole site root, pruning set aside.
    const growth = samples.map((x) => x.siteRootGrowthKiB);
    const worst = trees.reduce((a, b) => (b.largest.peakKiB > a.largest.peakKiB ? b : a));
    const oneGiBKiB = 1024 * 1024;
    return {
        generated: {
            files: site.files,
            megabytes: Number((site.bytes / 1e6).toFixed(1)),
            images: site.imageFiles,
            imageMegabytes: Number((site.imageBytes / 1e6).toFixed(1)),
            textFiles: site.textFiles,
            textMegabytes: Number((site.textBytes / 1e6).toFixed(1)),
            directories,
        },
        publishSeconds: Number(publishSeconds.toFixed(1)),
        firstDeploy: {
            deliveryToServedSeconds: Number((firstServedMs / 1000).toFixed(1)),
            syncSeconds: Number(firstSyncSeconds.toFixed(1)),
            releaseFiles,
            precompressedFiles: gzFiles,
            brotliFiles: brFiles,
            siteRootMiB: mib(siteRootKiB),
            cloneMiB: mib(cloneKiB),
            releaseMiB: mib(releaseKiB),
            syncMemory: memoryFigures(firstTree),
        },
        oneFileChange: {
            changes,
            sampledChanges,
            file: page,
            deliveryToServedMs: { p50: percentile(servedMs, 50), max: Math.max(...servedMs), all: servedMs },
            releaseOwnDiskKiB: { p50: percentile(own, 50), max: Math.max(...own), all: own },
            ofWhichDirectoriesKiB: directoriesKiB,
            ofWhichGitIndexKiB: indexKiB(),
            spareCopyKiB: samples.at(-1)!.spareKiB,
            siteRootGrowthPerDeployKiB: growth,
            syncPeakRssMiB: mib(worst.largest.peakKiB),
            syncPeakProcess: worst.largest.name,
            syncTreePeakRssSumMiB: mib(Math.max(...trees.map((t) => t.peakSumRssKiB))),
            syncTreePeakAnonSumMiB: mib(Math.max(...trees.map((t) => t.peakSumAnonKiB))),
            // The sampled changes' own times, for what the sampling costs them.
            deliveryToServedWhileSampledMs: samples.slice(changes).map((x) => x.servedMs),
            syncMemoryOfWorstChange: memoryFigures(worst),
        },
        threeReleases: {
            releases: kept.length,
            siteRootMiB: mib(threeReleasesAndClone),
            leftOfOneGiBMiB: mib(oneGiBKiB - threeReleasesAndClone),
            asFullCopiesWithCloneMiB: mib(asCopies + cloneKiB),
        },
        goals: {
            oneFileChangeUnder1s: Math.max(...servedMs) < 1000,
            oneFileChangeUnder1MB: Math.max(...own) < 1024 && Math.max(...growth) < 1024,
            threeReleasesWithin1GB: kept.length === 3 && threeReleasesAndClone < oneGiBKiB,
        },
    };
}

/** RSS and PSS of the server's processes at rest, by program. */
async function serverMemory(env: SandboxEnvironment) {
    await waitSyncsDone(env, 120_000, 2000);
    const procs = listProcs();
    const groups: Record<string, { processes: number; rssKiB: number; pssKiB: number }> = {};
    const programs: Array<[string, (comm: string) => boolean]> = [
        ["nginx", (c) => c === "nginx"],
        ["webhook", (c) => c === "webhook"],
        ["supervise-daemon", (c) => c.startsWith("supervise-daem")],
        ["cron", (c) => c === "cron"],
        ["sshd", (c) => c === "sshd"],
    ];
    for (const [name, match] of programs) {
        const group = { processes: 0, rssKiB: 0, pssKiB: 0 };
        for (const p of hostProcesses(env, procs, match)) {
            const m = rssPssKiB(p.pid);
            if (!m) continue;
            group.processes++;
            group.rssKiB += m.rss;
            group.pssKiB += m.pss;
        }
        if (group.processes === 0) throw new Error(`no ${name} process found on the host`);
        groups[name] = group;
    }
    const total = Object.values(groups).reduce((a, g) => ({ rss: a.rss + g.rssKiB, pss: a.pss + g.pssKiB }), { rss: 0, pss: 0 });
    return {
        byProgramMiB: Object.fromEntries(Object.entries(groups).map(([name, g]) => [name, { processes: g.processes, rss: mib(g.rssKiB), pss: mib(g.pssKiB) }])),
        totalRssMiB: mib(total.rss),
        totalPssMiB: mib(total.pss),
    };
}

// ---- The receiver under Go runtime limits ----------------------------------------------------

const receiverInit = "/etc/init.d/selfpages-receiver";
// 8MiB was the limit before 2026-12-05: below the Go runtime's own footprint at start, so the
// collector ran through every start and request (CPU measured here) for no lower RSS than 12MiB's.
const receiverVariants: Array<[string, Record<string, string>]> = [
    ["none", {}],
    ["GOGC=50", { GOGC: "50" }],
    ["GOMEMLIMIT=8MiB", { GOMEMLIMIT: "8MiB" }],
    ["GOMEMLIMIT=10MiB", { GOMEMLIMIT: "10MiB" }],
    [`GOMEMLIMIT=${receiverGoMemLimit}`, { GOMEMLIMIT: receiverGoMemLimit }],
    [`GOGC=50 GOMEMLIMIT=${receiverGoMemLimit}`, { GOGC: "50", GOMEMLIMIT: receiverGoMemLimit }],
];

function receiverPid(env: SandboxEnvironment): number {
    const found = hostProcesses(env, listProcs(), (c) => c === "webhook");
    if (found.length !== 1) throw new Error(`expected one webhook process, found ${found.length}`);
    return found[0].pid;
}

/** The Go runtime variables the receiver runs with, from its environment. */
function receiverGoEnv(pid: number): Record<string, string> {
    const env = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    return Object.fromEntries(env.filter((e) => /^GO(GC|MEMLIMIT)=/.test(e)).map((e) => e.split("=", 2) as [string, string]));
}

/** Restarts the receiver with exactly `vars` set through supervise-daemon (none: the init script's own lines removed). */
async function restartReceiverWith(env: SandboxEnvironment, original: string, vars: Record<string, string>): Promise<number> {
    const args = Object.entries(vars).map(([k, v]) => `--env ${k}=${v}`).join(" ");
    const script = original.replace(/^supervise_daemon_args=.*\n/m, "").replace(/^(supervisor=.*)$/m, `$1\nsupervise_daemon_args="${args}"`);
    fs.writeFileSync(path.join(env.host.rootfs, receiverInit.slice(1)), script);
    hostExec(env.host.name, "rc-service selfpages-receiver restart >/dev/null 2>&1");
    await sleep(1500);
    const pid = receiverPid(env);
    const got = receiverGoEnv(pid);
    if (JSON.stringify(got) !== JSON.stringify(vars)) throw new Error(`the receiver runs with ${JSON.stringify(got)}, not ${JSON.stringify(vars)}`);
    return pid;
}

async function receiverRuntimeLimits(env: SandboxEnvironment, rounds: number, bursts: number, deliveries: number) {
    const initPath = path.join(env.host.rootfs, receiverInit.slice(1));
    const original = fs.readFileSync(initPath, "utf8");
    const sha = env.publisher.head();
    const figures: Record<string, { idleKiB: number[]; peakKiB: number[]; afterKiB: number[]; startCpuMs: number[]; burstCpuMs: number[]; answered: number }> = {};
    try {
        for (let round = 0; round < rounds; round++) {
            for (const [name, vars] of receiverVariants) {
                const pid = await restartReceiverWith(env, original, vars);
                const idle = statusKiB(pid)!.VmRSS;
                const startCpu = cpuSeconds(pid).own * 1000;
                let answered = 0;
                for (let b = 0; b < bursts; b++) {
                    const results = await Promise.all(Array.from({ length: deliveries }, () => env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha })));
                    answered += results.flat().filter((d) => d.status_code === 202).length;
                }
                if (answered !== bursts * deliveries) throw new Error(`${name}: ${answered} of ${bursts * deliveries} deliveries answered 202`);
                await waitSyncsDone(env, 60_000);
                await sleep(3000);
                const status = statusKiB(pid)!;
                const burstCpu = cpuSeconds(pid).own * 1000 - startCpu;
                if (receiverPid(env) !== pid) throw new Error(`${name}: the receiver restarted during the burst`);
                const f = (figures[name] ??= { idleKiB: [], peakKiB: [], afterKiB: [], startCpuMs: [], burstCpuMs: [], answered: 0 });
                f.startCpuMs.push(startCpu);
                f.burstCpuMs.push(burstCpu);
                f.idleKiB.push(idle);
                f.peakKiB.push(status.VmHWM);
                f.afterKiB.push(status.VmRSS);
                f.answered += answered;
            }
        }
    } finally {
        fs.writeFileSync(initPath, original);
        hostExec(env.host.name, "rc-service selfpages-receiver restart >/dev/null 2>&1");
    }
    const mean = (xs: number[]) => mib(xs.reduce((a, b) => a + b, 0) / xs.length);
    await sleep(1500);
    const deployed = receiverGoEnv(receiverPid(env));
    if (deployed.GOMEMLIMIT !== receiverGoMemLimit) throw new Error(`the deployed receiver runs with ${JSON.stringify(deployed)}, not GOMEMLIMIT=${receiverGoMemLimit}`);
    return {
        rounds,
        deliveriesPerVariant: bursts * deliveries * rounds,
        settings: "set with supervise_daemon_args --env; RSS at start, peak (VmHWM) over the bursts, and 3 s after; CPU (user + system) of its first 1.5 s, and per delivery over the bursts",
        variantsMiB: Object.fromEntries(
            Object.entries(figures).map(([name, f]) => [
                name,
                {
                    idleRss: mean(f.idleKiB),
                    peakRss: mean(f.peakKiB),
                    rssAfterBursts: mean(f.afterKiB),
                    samples: f.afterKiB.map(mib),
                    cpuAtStartMs: Math.round(f.startCpuMs.reduce((a, b) => a + b, 0) / f.startCpuMs.length),
                    cpuPerDeliveryMs: Number((f.burstCpuMs.reduce((a, b) => a + b, 0) / (bursts * deliveries * f.burstCpuMs.length)).toFixed(2)),
                },
            ]),
        ),
        deployed,
    };
}

function table(results: Record<string, Record<string, unknown>>): string {
    const rows: string[] = ["| measure | value |", "|---|---|"];
    for (const [section, figures] of Object.entries(results)) {
        for (const [name, value] of Object.entries(figures)) rows.push(`| ${section}.${name} | ${typeof value === "object" ? JSON.stringify(value) : String(value)} |`);
    }
    return rows.join("\n");
}

async function main(): Promise<void> {
    // `--only bigSite,latency` (or BENCH_ONLY=...) runs those sections alone (after the first
    // `up`) and prints them: for working on one of them. With `--write` as well, those sections
    // replace theirs in bench/results.json, each stamped with its own run (the file's `run` is the
    // last full run's). A full run writes the whole file.
    const onlyArg = process.argv.indexOf("--only");
    const only = (onlyArg >= 0 ? process.argv[onlyArg + 1] : process.env.BENCH_ONLY)?.split(",").filter(Boolean);
    const write = !only || process.argv.includes("--write");
    // Another checkout may run its own bench on this machine: BENCH_SANDBOX names ours apart.
    const sandboxName = process.env.BENCH_SANDBOX ?? "bench";
    // The one-site sandbox most sections share, built (and `up`) when the first of them runs.
    let built: SandboxEnvironment | undefined;
    const shared = async () => {
        if (!built) {
            built = await buildSandbox({ name: sandboxName });
            if (only && !only.includes("pulumi")) await built.stack.up();
        }
        return built;
    };
    try {
        const results: Record<string, Record<string, unknown>> = {};
        // The machine's own name here is a VM's generic one: the name the figures are quoted under.
        const run = { date: new Date().toISOString(), machine: process.env.BENCH_MACHINE ?? "polyglot", hostname: os.hostname(), cores: os.cpus().length };
        results.run = run;
        const withShared = (section: (env: SandboxEnvironment) => Promise<Record<string, unknown>>) => async () => section(await shared());
        const sections: Array<[string, () => Promise<Record<string, unknown>>]> = [
            ["pulumi", withShared((env) => pulumiFigures(env))],
            // Polled every 5 ms: the served time is known to 5 ms, not to the 20 ms it used to be.
            ["latency", withShared((env) => pushToServed(env, 20, 5))],
            ["receiverDuringSlowSync", withShared((env) => answerDuringSlowSync(env))],
            ["burst", withShared((env) => burst(env, 50))],
            ["nginx", withShared((env) => nginxLoad(env))],
            [
                "footprint",
                withShared(async (env) => {
                    await nginxSettled(env);
                    return footprint(env);
                }),
            ],
            ["bigSite", withShared((env) => bigSite(env, 6, 2))],
            ["serverMemoryAfterBigSite", withShared((env) => serverMemory(env))],
            ["receiverRuntimeLimits", withShared((env) => receiverRuntimeLimits(env, 2, 2, 50))],
            // Last of the shared sandbox's: it empties the site root for a real first deploy.
            ["pythonDocs", withShared((env) => pythonDocs(env, 3))],
            // Sandboxes of its own (1 site, then 10), built once the shared one is gone.
            [
                "manySites",
                async () => {
                    await built?.close();
                    built = undefined;
                    return manySites(sandboxName.slice(0, 8), { one: 20, many: 10 }, 20);
                },
            ],
            // A fleet's sandboxes (1 server, then 5, HTTPS), once the shared one is gone.
            [
                "fleet",
                async () => {
                    await built?.close();
                    built = undefined;
                    return fleet(sandboxName.slice(0, 5), 20, 10);
                },
            ],
        ];
        const unknown = only?.filter((name) => !sections.some(([section]) => section === name)) ?? [];
        if (unknown.length > 0) throw new Error(`--only: no section ${unknown.join(", ")} (sections: ${sections.map(([name]) => name).join(", ")})`);
        for (const [name, runSection] of sections) {
            if (only && !only.includes(name)) continue;
            const started = Date.now();
            results[name] = await runSection();
            if (only) results[name] = { run, ...results[name] };
            console.error(`bench: ${name} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
        }
        if (!write) {
            console.log(JSON.stringify(results, null, 2));
            return;
        }
        const { run: _, ...measured } = results;
        const written = only ? { ...(JSON.parse(fs.readFileSync(resultsFile, "utf8")) as Record<string, unknown>), ...measured } : results;
        fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
        fs.writeFileSync(resultsFile, `${JSON.stringify(written, null, 2)}\n`);
        console.log(table(only ? measured : results));
        console.log(`\nwritten to ${resultsFile}`);
    } finally {
        await built?.close();
    }
}

main().catch((error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
});
