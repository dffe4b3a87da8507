/**
 * `npm run bench`: measures the deployed system on a sandbox host and writes bench/results.json,
 * then prints a table. Every figure comes from this one run; baselines beside them are measured
 * in the same run where the old system's behaviour can be reproduced (on-the-fly gzip level 2,
 * a full copy per release, answering only after the sync).
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { startSandboxEnvironment, type SandboxEnvironment } from "../sandbox/environment";
import { hostExec } from "../sandbox/hostInstance";
import { repoRoot } from "../toolchain/env";

const resultsFile = path.join(repoRoot, "bench", "results.json");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: number[], p: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function served(env: SandboxEnvironment, file: string): Promise<string> {
    const response = await fetch(`${env.siteUrl}${file}`, { signal: AbortSignal.timeout(5000) });
    return response.text();
}

async function waitServed(env: SandboxEnvironment, token: string, timeoutMs: number, pollMs = 20): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
        if ((await served(env, "/version.txt").catch(() => "")) === token) return Date.now() - started;
        await sleep(pollMs);
    }
    throw new Error(`${token} not served within ${timeoutMs} ms`);
}

const syncLog = (env: SandboxEnvironment) => fs.readFileSync(path.join(env.host.rootfs, "var/log/selfpages/sync.log"), "utf8").split("\n");
const countSyncs = (lines: string[]) => lines.filter((l) => / (deployed|up to date) /.test(l)).length;

async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
    const started = Date.now();
    const result = await run();
    return [result, (Date.now() - started) / 1000];
}

async function pulumiFigures(env: SandboxEnvironment) {
    const [, upFromBare] = await timed(() => env.stack.up());
    const [noop, upNoop] = await timed(() => env.stack.up());
    const [, previewNoop] = await timed(() => env.stack.preview());
    const changed = Object.entries(noop.summary.resourceChanges ?? {}).filter(([op]) => op !== "same");
    return { upFromBareSeconds: upFromBare, upNoopSeconds: upNoop, previewNoopSeconds: previewNoop, noopChanges: changed.length };
}

async function latency(env: SandboxEnvironment, pushes: number) {
    const samples: number[] = [];
    for (let i = 0; i < pushes; i++) {
        const token = crypto.randomBytes(6).toString("hex");
        const sha = env.publisher.publish({ "version.txt": token }, `bench ${i}`);
        const started = Date.now();
        const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        if (delivery.status_code !== 202) throw new Error(`delivery answered ${delivery.status_code}`);
        await waitServed(env, token, 30_000);
        samples.push(Date.now() - started);
    }
    return {
        pushes,
        p50Ms: percentile(samples, 50),
        p95Ms: percentile(samples, 95),
        maxMs: Math.max(...samples),
        // The seed's webhook never deployed (nginx answered 413): only its 15-minute cron did.
        baselineSeedMeanMs: 7.5 * 60 * 1000,
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

function wrk(url: string): { requestsPerSecond: number } {
    const out = execFileSync("wrk", ["-t2", "-c16", "-d5s", "-H", "Accept-Encoding: gzip", url], { encoding: "utf8" });
    return { requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0) };
}

function gzipBytes(url: string): number {
    return Number(execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{size_download}", "-H", "Accept-Encoding: gzip", url], { encoding: "utf8" }));
}

/** Our gzip_static config against the seed's on-the-fly gzip (level 2), same files, same nginx. */
async function nginxLoad(env: SandboxEnvironment) {
    const seedPort = 8081;
    hostExec(
        env.host.name,
        `cat > /etc/nginx/conf.d/zz-bench-seed-gzip.conf <<'EOF'
server {
    listen ${seedPort};
    root /srv/selfpages/current;
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
            const oursBytes = gzipBytes(ours);
            const seedBytes = gzipBytes(seed);
            figures[kind] = {
                precompressedRps: oursRun.requestsPerSecond,
                onTheFlyLevel2Rps: seedRun.requestsPerSecond,
                rpsRatio: Number((oursRun.requestsPerSecond / seedRun.requestsPerSecond).toFixed(2)),
                precompressedBytes: oursBytes,
                onTheFlyLevel2Bytes: seedBytes,
                bytesRatio: Number((oursBytes / seedBytes).toFixed(3)),
            };
        }
        return figures;
    } finally {
        hostExec(env.host.name, "rm -f /etc/nginx/conf.d/zz-bench-seed-gzip.conf && rc-service nginx reload >/dev/null");
    }
}

function footprint(env: SandboxEnvironment) {
    const rssKiB = (pattern: string) =>
        hostExec(env.host.name, `ps -eo rss=,comm= | awk '$2 ~ /${pattern}/ {s += $1} END {print s + 0}'`)
            .trim()
            .split("\n")
            .map(Number)[0];
    const du = (args: string) => Number(hostExec(env.host.name, `du -sk ${args} | cut -f1`).trim());
    const releases = Number(hostExec(env.host.name, "ls /srv/selfpages/releases | wc -l").trim());
    return {
        receiverRssKiB: rssKiB("^webhook$"),
        nginxRssKiB: rssKiB("^nginx"),
        releases,
        releasesDiskKiB: du("/srv/selfpages/releases"),
        // The same releases as full copies (what a copy-per-deploy layout would use).
        releasesAsCopiesKiB: du("--count-links /srv/selfpages/releases"),
        cloneDiskKiB: du("/srv/selfpages/repo.git"),
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
    const env = await startSandboxEnvironment("bench");
    try {
        const results: Record<string, Record<string, unknown>> = {};
        results.run = { date: new Date().toISOString(), cores: (await import("node:os")).cpus().length };
        results.pulumi = await pulumiFigures(env);
        results.latency = await latency(env, 20);
        results.receiverDuringSlowSync = await answerDuringSlowSync(env);
        results.burst = await burst(env, 50);
        results.nginx = await nginxLoad(env);
        results.footprint = footprint(env);
        fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
        fs.writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
        console.log(table(results));
        console.log(`\nwritten to ${resultsFile}`);
    } finally {
        await env.close();
    }
}

main().catch((error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
});
