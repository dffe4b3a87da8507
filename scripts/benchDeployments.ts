/**
 * What reporting deploys to GitHub (deployments) costs a deploy, measured on a sandbox host in one
 * run, with reporting on and off on the same host:
 *   npx tsx scripts/benchDeployments.ts [--pushes 20]
 * writes bench/deployments.json and prints a table.
 *
 * - delivery to served, pushes interleaved: reporting off (the reporter switched off with chmod -x,
 *   which is what the sync script checks: same host, same script, same site), on, and on with the
 *   stand-in not answering at all (the reporter's calls are made, its requests wait: no sending
 *   work competes with the deploy);
 * - the reporter's own calls, timed on the host: what the sync script waits for (it only queues);
 * - from served to the success status in the stand-in: how soon GitHub shows the deploy.
 * The site is polled from a process of its own: the stand-in, in this process, answering the
 * reporter must not delay the polling.
 */
import { execFile, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { promisify } from "node:util";
import { buildSandbox, type Sandbox as SandboxEnvironment } from "../sandbox/build";
import { repoRoot } from "../toolchain/env";

const resultsFile = path.join(repoRoot, "bench", "deployments.json");
const reporter = "/usr/local/lib/selfpages/deploy-report";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const run = promisify(execFile);

/** A command in the host as root; asynchronous, so that the stand-in in this process keeps answering. */
async function hostSh(env: SandboxEnvironment, command: string): Promise<string> {
    const { stdout } = await run("bash", [path.join(repoRoot, "sandbox", "host", "exec.sh"), env.host.name, "sh", "-c", command], { maxBuffer: 16 << 20 });
    return stdout;
}

function percentile(values: number[], p: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const summary = (values: number[]) => ({ n: values.length, p50: round(percentile(values, 50)), p95: round(percentile(values, 95)), mean: round(mean(values)), min: round(Math.min(...values)), max: round(Math.max(...values)) });

/**
 * Polls the site every 5 ms from a process of its own (the stand-in answering the reporter in this
 * process must not delay the polling) and resolves with the wall-clock time the token was served.
 */
function watchServed(url: string, token: string): { ready: Promise<void>; servedAt: Promise<number> } {
    const script = `
        const [url, token] = process.argv.slice(1);
        const end = Date.now() + 30000;
        console.log("ready");
        (async () => {
            while (Date.now() < end) {
                const text = await fetch(url, { signal: AbortSignal.timeout(5000) }).then((r) => r.text(), () => "");
                if (text === token) { console.log(String(performance.timeOrigin + performance.now())); return; }
                await new Promise((r) => setTimeout(r, 5));
            }
            process.exit(1);
        })();`;
    const child = spawn(process.execPath, ["-e", script, url, token], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    let onReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.startsWith("ready\n")) onReady();
    });
    const servedAt = new Promise<number>((resolve, reject) => child.once("close", (code) => (code === 0 ? resolve(Number(out.split("\n")[1])) : reject(new Error(`${token} not served within 30 s`)))));
    return { ready, servedAt };
}

/** Publishes, delivers, and returns the delivery-to-served time (ms) and the commit. */
async function push(env: SandboxEnvironment, label: string): Promise<{ sha: string; ms: number }> {
    const token = crypto.randomBytes(6).toString("hex");
    const sha = env.publisher.publish({ "version.txt": token }, label);
    const watcher = watchServed(`${env.siteUrl}/version.txt`, token);
    await watcher.ready;
    const started = performance.timeOrigin + performance.now();
    const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
    if (delivery.status_code !== 202) throw new Error(`delivery answered ${delivery.status_code}`);
    return { sha, ms: (await watcher.servedAt) - started };
}

/** The sync and the reporter's sender have both finished on the host. */
async function idle(env: SandboxEnvironment): Promise<void> {
    for (const end = Date.now() + 90_000; Date.now() < end; await sleep(100)) {
        const lines = await hostSh(env, "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done 2>/dev/null");
        if (!/deploy-report|\/sync (webhook|manual|cron)/.test(lines)) return;
    }
    throw new Error("the host never went idle");
}

const successAt = (env: SandboxEnvironment, sha: string) => {
    const status = env.standin.deploymentsOf(env.repository).find((d) => d.sha === sha)?.statuses.find((s) => s.state === "success");
    return status !== undefined;
};

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { pushes: { type: "string", default: "20" } } });
    const pushes = Number(values.pushes);
    const env = await buildSandbox({ name: "bench-deploy", deployments: true });
    try {
        const up = await env.stack.up();
        if (up.summary.result !== "succeeded") throw new Error("pulumi up failed");
        for (let i = 0; i < 3; i++) await push(env, `warm-up ${i}`);
        await idle(env);

        // Interleaved: off, on, and every third round on with the stand-in not answering; each push
        // after the host went idle (the sender of a hanging push gives up after 2 x 10 s).
        const on: number[] = [];
        const off: number[] = [];
        const hanging: number[] = [];
        const reportedAfterServed: number[] = [];
        const requestsPerDeploy: number[] = [];
        for (let i = 0; i < pushes; i++) {
            await hostSh(env, `chmod 0644 ${reporter}`);
            off.push((await push(env, `off ${i}`)).ms);
            await idle(env);

            await hostSh(env, `chmod 0755 ${reporter}`);
            const requestsBefore = env.standin.apiRequests().length;
            const { sha, ms } = await push(env, `on ${i}`);
            on.push(ms);
            const servedAt = performance.now();
            while (!successAt(env, sha)) {
                if (performance.now() - servedAt > 30_000) throw new Error(`no success status for ${sha}`);
                await sleep(5);
            }
            reportedAfterServed.push(performance.now() - servedAt);
            await idle(env);
            requestsPerDeploy.push(env.standin.apiRequests().length - requestsBefore);

            if (i % 3 === 0) {
                env.standin.setFault("hang");
                try {
                    hanging.push((await push(env, `hanging ${i}`)).ms);
                } finally {
                    env.standin.setFault("none");
                }
                await idle(env);
            }
        }

        // The calls the sync script makes, timed on the host as the service account: one deploy
        // makes two (start, then success). Monotonic clock from /proc/uptime is too coarse: date +%s%N.
        const calls = 50;
        const timing = await hostSh(
            env,
            `su -s /bin/sh selfpages -c 'i=0; while [ $i -lt ${calls} ]; do sha=$(printf "%040x" $((i + 4096))); a=$(date +%s%N); ${reporter} start $sha; b=$(date +%s%N); ${reporter} success $sha; c=$(date +%s%N); echo $(((b - a) / 1000)) $(((c - b) / 1000)); i=$((i + 1)); done'`,
        );
        const perCall: number[] = [];
        const perDeploy: number[] = [];
        for (const line of timing.trim().split("\n")) {
            const [start, success] = line.split(" ").map((us) => Number(us) / 1000);
            perCall.push(start, success);
            perDeploy.push(start + success);
        }
        await idle(env);

        const results = {
            date: new Date().toISOString(),
            machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? "unknown", loadAverage1m: round(os.loadavg()[0], 2) },
            method: "pushes interleaved off / on / on with the stand-in not answering, on one sandbox host (reporter switched off with chmod -x), each after the host went idle; delivery to served polled every 5 ms from a process of its own; the stand-in runs in the bench's process, on the same 2 cores as the host",
            deliveryToServedMs: {
                reportingOff: summary(off),
                reportingOn: summary(on),
                reportingOnGitHubNotAnswering: summary(hanging),
                addedP50: round(percentile(on, 50) - percentile(off, 50)),
                addedMean: round(mean(on) - mean(off)),
                addedP50GitHubNotAnswering: round(percentile(hanging, 50) - percentile(off, 50)),
            },
            reporterCallMs: { perCall: summary(perCall), perDeploy: summary(perDeploy) },
            servedToSuccessStatusMs: summary(reportedAfterServed),
            apiRequestsPerReportedDeploy: summary(requestsPerDeploy),
        };
        fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
        fs.writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
        const row = (name: string, s: { p50: number; p95: number }) => `| ${name} | ${s.p50} ms | ${s.p95} ms |`;
        console.log(
            [
                "| measure | p50 | p95 |",
                "|---|---|---|",
                row(`delivery to served, reporting off (${off.length} pushes)`, results.deliveryToServedMs.reportingOff),
                row(`delivery to served, reporting on (${on.length} pushes)`, results.deliveryToServedMs.reportingOn),
                row(`delivery to served, reporting on, stand-in not answering (${hanging.length} pushes)`, results.deliveryToServedMs.reportingOnGitHubNotAnswering),
                row(`reporter calls of one deploy, on the host (${perDeploy.length} deploys)`, results.reporterCallMs.perDeploy),
                row("served to success status in the stand-in", results.servedToSuccessStatusMs),
            ].join("\n"),
        );
        console.log(`wrote ${path.relative(process.cwd(), resultsFile)}`);
    } finally {
        await env.close();
    }
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
