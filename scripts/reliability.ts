/**
 * `npm run reliability`: hostile inputs against the deployed receiver, and invalid stack configs
 * against the real engine. Writes bench/reliability.json and prints one row per class.
 *
 * Hostile inputs: at least 200 requests through nginx, by class; for each class the status codes,
 * the 5xx answers, and the syncs they caused (read from the host's sync log), then proof that the
 * receiver still deploys a valid push.
 * Invalid configs: each is set on a stack whose host is a TCP sink on loopback; `pulumi up` must
 * fail naming the key, and the sink must see no connection (a valid config does connect).
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { startSandboxEnvironment, type SandboxEnvironment } from "../sandbox/environment";
import { hostExec, hostRestart, originDaemon } from "../sandbox/hostInstance";
import { repoRoot } from "../toolchain/env";

const resultsFile = path.join(repoRoot, "bench", "reliability.json");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sign = (secret: string, body: Buffer, algorithm: "sha256" | "sha1" = "sha256") => `${algorithm}=${crypto.createHmac(algorithm, secret).update(body).digest("hex")}`;

interface Probe {
    method?: string;
    path?: string;
    headers: Record<string, string>;
    body?: Buffer;
    /** Bytes actually sent (truncation), or a slow client's pace. */
    sendBytes?: number;
    slowMs?: number;
}

/** The status, or CLOSED_BY_SERVER when the server dropped the connection before answering. */
const CLOSED_BY_SERVER = 0;
/** A slow client that was still connected when it gave up itself: the server never timed it out. */
const CLIENT_GAVE_UP = -1;

function send(host: string, probe: Probe): Promise<number> {
    return new Promise((resolve) => {
        let clientGaveUp = false;
        const body = probe.body ?? Buffer.alloc(0);
        const request = http.request({ host, port: 80, method: probe.method ?? "POST", path: probe.path ?? "/webhook", headers: { "content-length": String(body.length), ...probe.headers }, timeout: 30_000 }, (response) => {
            response.resume();
            response.on("end", () => resolve(response.statusCode ?? 0));
        });
        request.on("error", () => resolve(clientGaveUp ? CLIENT_GAVE_UP : CLOSED_BY_SERVER));
        request.on("timeout", () => request.destroy());
        if (probe.slowMs) {
            // One byte now, the rest never: nginx must drop the connection (client_body_timeout)
            // before this client gives up on its own.
            request.write(body.subarray(0, 1));
            const giveUp = setTimeout(() => {
                clientGaveUp = true;
                request.destroy();
            }, probe.slowMs);
            request.on("close", () => clearTimeout(giveUp));
            return;
        }
        request.end(probe.sendBytes === undefined ? body : body.subarray(0, probe.sendBytes));
    });
}

const syncRuns = (env: SandboxEnvironment) =>
    fs
        .readFileSync(path.join(env.host.rootfs, "var/log/selfpages/sync.log"), "utf8")
        .split("\n")
        .filter((l) => / (deployed|up to date) /.test(l)).length;

function pushBody(env: SandboxEnvironment, overrides: Record<string, unknown> = {}): Buffer {
    return Buffer.from(JSON.stringify({ ref: "refs/heads/gh-pages", after: env.publisher.head(), repository: { full_name: env.repository, name: "site", owner: { login: "selfpages" } }, ...overrides }));
}

function githubHeaders(event = "push"): Record<string, string> {
    return { "content-type": "application/json", "x-github-event": event, "x-github-delivery": crypto.randomUUID(), "user-agent": "GitHub-Hookshot/bench" };
}

function corpus(env: SandboxEnvironment, secret: string): Record<string, { probes: Probe[]; valid: boolean }> {
    const n = 20;
    const many = (make: (i: number) => Probe, count = n) => Array.from({ length: count }, (_, i) => make(i));
    const signed = (body: Buffer, headers = githubHeaders()) => ({ ...headers, "x-hub-signature-256": sign(secret, body) });
    const big = Buffer.alloc(26 * 1024 * 1024, 0x20);
    const replayBody = pushBody(env);
    const replayHeaders = signed(replayBody);
    return {
        "missing signature": { valid: false, probes: many(() => ({ headers: githubHeaders(), body: pushBody(env) })) },
        "malformed signature": {
            valid: false,
            probes: many((i) => ({ headers: { ...githubHeaders(), "x-hub-signature-256": ["sha256=", "sha256=zz", "md5=abc", "garbage", `sha256=${"0".repeat(63)}`][i % 5] }, body: pushBody(env) })),
        },
        "SHA-1 signature only": { valid: false, probes: many(() => { const body = pushBody(env); return { headers: { ...githubHeaders(), "x-hub-signature": sign(secret, body, "sha1") }, body }; }) },
        "wrong secret": { valid: false, probes: many(() => { const body = pushBody(env); return { headers: { ...githubHeaders(), "x-hub-signature-256": sign("not-the-secret", body) }, body }; }) },
        "truncated body": { valid: false, probes: many(() => { const body = pushBody(env); return { headers: { ...signed(body), "content-length": String(body.length - 10) }, body, sendBytes: body.length - 10 }; }) },
        "oversized body (26 MB)": { valid: false, probes: many(() => ({ headers: { ...githubHeaders(), "x-hub-signature-256": sign(secret, big) }, body: big }), 5) },
        "wrong repository": { valid: false, probes: many(() => { const body = pushBody(env, { repository: { full_name: "someone/else" } }); return { headers: signed(body), body }; }) },
        "wrong ref": { valid: false, probes: many((i) => { const body = pushBody(env, { ref: ["refs/heads/main", "refs/tags/v1", "refs/heads/gh-pages-old", ""][i % 4] }); return { headers: signed(body), body }; }) },
        "malformed JSON": { valid: false, probes: many((i) => { const body = Buffer.from(['{"ref": "refs/heads/gh-pages"', "[1,2", "null", "\u0000\u0001"][i % 4]); return { headers: signed(body), body }; }) },
        "form-encoded payload": {
            valid: false,
            probes: many(() => { const body = Buffer.from(`payload=${encodeURIComponent(pushBody(env).toString())}`); return { headers: { ...signed(body), "content-type": "application/x-www-form-urlencoded" }, body }; }),
        },
        "wrong method": { valid: false, probes: many((i) => ({ method: ["GET", "PUT", "DELETE", "PATCH", "HEAD"][i % 5], headers: githubHeaders(), body: i % 5 === 0 || i % 5 === 4 ? undefined : pushBody(env) })) },
        "wrong path": { valid: false, probes: many((i) => { const body = pushBody(env); return { path: ["/", "/index.html", "/webhook/", "/webhook2", "/hooks/selfpages"][i % 5], headers: signed(body), body }; }) },
        "slow-body client": { valid: false, probes: many(() => ({ headers: signed(pushBody(env)), body: pushBody(env), slowMs: 25_000 }), 5) },
        "replayed valid delivery": { valid: true, probes: many(() => ({ headers: replayHeaders, body: replayBody }), 10) },
    };
}

async function hostileInputs(env: SandboxEnvironment) {
    const secret = env.standin.hooks(env.repository)[0].config.secret as string;
    const report: Record<string, unknown> = {};
    let total = 0;
    for (const [name, { probes, valid }] of Object.entries(corpus(env, secret))) {
        const before = syncRuns(env);
        const statuses = name === "slow-body client" ? await Promise.all(probes.map((p) => send(env.host.address, p))) : [];
        if (statuses.length === 0) for (const probe of probes) statuses.push(await send(env.host.address, probe));
        await sleep(1500);
        const counts: Record<string, number> = {};
        for (const s of statuses) {
            const label = s === CLOSED_BY_SERVER ? "closed by server" : s === CLIENT_GAVE_UP ? "client gave up" : String(s);
            counts[label] = (counts[label] ?? 0) + 1;
        }
        total += probes.length;
        report[name] = { requests: probes.length, statuses: counts, fiveXx: statuses.filter((s) => s >= 500).length, syncRuns: syncRuns(env) - before, expectSyncRuns: valid ? "up-to-date runs only" : 0 };
    }
    // Still serving and still deploying afterwards.
    const token = crypto.randomBytes(6).toString("hex");
    const sha = env.publisher.publish({ "version.txt": token }, "after the hostile corpus");
    const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
    let servedAfter = false;
    for (let i = 0; i < 100 && !servedAfter; i++) {
        await sleep(100);
        servedAfter = (await (await fetch(`${env.siteUrl}/version.txt`)).text()) === token;
    }
    return { totalRequests: total, classes: report, afterwards: { deliveryStatus: delivery.status_code, deployed: servedAfter } };
}

const invalidConfigs: Array<[string, string]> = [
    ["hostAddress", "not a host!"], ["hostAddress", "999.1.1.1"], ["hostPort", "0"], ["hostPort", "70000"], ["hostUser", "Root User"],
    ["hostPrivateKey", "not a key"], ["hostKey", "AAAAC3NzaC1lZDI1NTE5"], ["hostKey", "ssh-dss AAAA"], ["os", "ubuntu"], ["siteRepository", "do-it"],
    ["siteRepository", "a/b/c"], ["siteBranch", "gh pages"], ["siteBranch", "a..b"], ["siteBranch", "/x"], ["siteCloneUrl", "github.com/x/y"],
    ["siteServerNames", "do-it.example.org"], ["siteServerNames", "[]"], ["siteServerNames", "[\"bad name\"]"], ["siteRoot", "srv/site"], ["siteRoot", "/srv/../etc"],
    ["siteRoot", "/"], ["siteKeepReleases", "1"], ["siteKeepReleases", "50"], ["receiverPort", "80"], ["receiverPath", "webhook"],
    ["receiverPath", "/web hook"], ["receiverPublicUrl", "ftp://x/webhook"], ["syncSchedule", "every 15 minutes"], ["syncSchedule", "61 * * * *"], ["syncSchedule", "*/0 * * * *"],
    ["githubApiUrl", "api.github.com"], ["webhookSecretVersion", "0"], ["siteBrnach", "main"],
];

/** A TCP listener that only counts connections: the "host" of the invalid-config runs. */
async function connectionSink(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
    let count = 0;
    const server = net.createServer((socket) => {
        count++;
        socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { port: (server.address() as net.AddressInfo).port, connections: () => count, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function invalidConfigRuns(env: SandboxEnvironment) {
    const sink = await connectionSink();
    const results: Array<{ key: string; value: string; rejected: boolean; namesKey: boolean; message: string; connections: number }> = [];
    const stack = env.stack;
    const base: Record<string, string> = { hostAddress: "127.0.0.1", hostPort: String(sink.port) };
    try {
        for (const [key, value] of invalidConfigs) {
            for (const [k, v] of Object.entries(base)) await stack.setConfig(`selfpages:${k}`, { value: v });
            await stack.setConfig(`selfpages:${key}`, { value, secret: key === "hostPrivateKey" });
            const before = sink.connections();
            let message = "";
            try {
                await stack.up();
            } catch (error) {
                message = String((error as Error).message);
            }
            // Our validation says `selfpages:<key>: <reason>`; the engine's own type check of
            // Pulumi.yaml (a list given as a string) names the key without the namespace.
            const line = message.split("\n").find((l) => l.includes(key)) ?? "";
            results.push({ key, value, rejected: message !== "", namesKey: line !== "", message: line.trim().slice(0, 200), connections: sink.connections() - before });
            await stack.removeConfig(`selfpages:${key}`);
            if (!["siteBrnach"].includes(key)) await restoreKey(env, key);
        }
        // Control: the same stack with a valid config does open a connection (and fails on it).
        const before = sink.connections();
        await stack.up().catch(() => undefined);
        return { configs: results.length, allRejected: results.every((r) => r.rejected), allNameTheKey: results.every((r) => r.namesKey), connectionsMade: results.reduce((s, r) => s + r.connections, 0), controlConnections: sink.connections() - before, details: results };
    } finally {
        await sink.close();
    }
}

/** Puts back the sandbox's own value of a key the invalid-config run replaced. */
async function restoreKey(env: SandboxEnvironment, key: string): Promise<void> {
    const sandboxValues: Record<string, string | undefined> = {
        hostAddress: "127.0.0.1",
        hostKey: env.host.hostKey,
        hostPrivateKey: fs.readFileSync(env.host.privateKeyPath, "utf8"),
        os: "debian",
        siteRepository: env.repository,
        siteCloneUrl: env.host.originUrl,
        githubApiUrl: env.standin.apiUrl,
    };
    const value = sandboxValues[key];
    if (key === "siteServerNames") await env.stack.setConfig("selfpages:siteServerNames[0]", { value: env.host.address }, true);
    else if (value !== undefined) await env.stack.setConfig(`selfpages:${key}`, { value, secret: key === "hostPrivateKey" });
}


const version = async (env: SandboxEnvironment) => {
    const response = await fetch(`${env.siteUrl}/version.txt`, { signal: AbortSignal.timeout(5000) });
    return { status: response.status, text: await response.text() };
};

async function deploysWithin(env: SandboxEnvironment, token: string, ms: number): Promise<boolean> {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(200)) if ((await version(env).catch(() => ({ text: "" }))).text === token) return true;
    return false;
}

/** The error lines the sync log holds for one delivery, without their timestamps. */
const syncErrors = (env: SandboxEnvironment, deliveryId: string) =>
    fs
        .readFileSync(path.join(env.host.rootfs, "var/log/selfpages/sync.log"), "utf8")
        .split("\n")
        .filter((line) => line.includes(`delivery=${deliveryId}]`) && line.includes(" error: "))
        .map((line) => line.replace(/^.*? error: /, ""))
        .join(" | ");

/** A push while something is wrong: the previous release must stay served, and deploys resume after. */
async function pushDuringFault(env: SandboxEnvironment, breakIt: () => void, repairIt: () => void) {
    const before = await version(env);
    const token = crypto.randomBytes(6).toString("hex");
    const sha = env.publisher.publish({ "version.txt": token }, "during a fault");
    breakIt();
    try {
        const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        await sleep(4000);
        const during = await version(env);
        const syncLog = syncErrors(env, delivery.guid);
        return { deliveryStatus: delivery.status_code, servedDuringFault: during.status, previousReleaseKept: during.text === before.text, syncLog, ...(await afterRepair(env, repairIt, sha, token)) };
    } catch (error) {
        repairIt();
        throw error;
    }
}

async function afterRepair(env: SandboxEnvironment, repairIt: () => void, sha: string, token: string) {
    repairIt();
    await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
    return { deployedAfterRepair: await deploysWithin(env, token, 30_000) };
}

async function faults(env: SandboxEnvironment) {
    const report: Record<string, unknown> = {};
    report.originUnreachable = await pushDuringFault(env, () => originDaemon(env.host.name, "stop"), () => originDaemon(env.host.name, "start"));

    const origin = env.host.originPath;
    const git = (...args: string[]) => execFileSync("git", ["--git-dir", origin, ...args], { encoding: "utf8" }).trim();
    let saved = "";
    report.badRef = await pushDuringFault(
        env,
        () => {
            saved = git("rev-parse", "refs/heads/gh-pages");
            git("update-ref", "-d", "refs/heads/gh-pages");
        },
        () => git("update-ref", "refs/heads/gh-pages", saved),
    );

    // Disk nearly full: the site root moved onto a tmpfs with 2 MB to spare, then a 30 MB change.
    const used = Number(hostExec(env.host.name, "du -sk /srv/selfpages | cut -f1").trim());
    const fill = () =>
        hostExec(env.host.name, `mkdir -p /mnt/small && mount -t tmpfs -o size=${used + 2048}k tmpfs /mnt/small && cp -a /srv/selfpages/. /mnt/small/ && mount --bind /mnt/small /srv/selfpages`);
    const unfill = () => hostExec(env.host.name, "umount /srv/selfpages; umount /mnt/small; rmdir /mnt/small");
    const before = await version(env);
    const token = crypto.randomBytes(6).toString("hex");
    const big: Record<string, string> = { "version.txt": token };
    for (let i = 0; i < 1500; i++) big[`bulk/${i}.html`] = `<p>${crypto.randomBytes(10_000).toString("base64")}</p>\n`;
    const sha = env.publisher.publish(big, "a change that does not fit");
    fill();
    try {
        const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        let syncLog = "";
        for (let i = 0; i < 60 && !syncLog && (await version(env)).text !== token; i++) {
            await sleep(1000);
            syncLog = syncErrors(env, delivery.guid);
        }
        await sleep(500); // the error lines are logged one by one
        syncLog = syncErrors(env, delivery.guid);
        const during = await version(env);
        const free = hostExec(env.host.name, "df -k /srv/selfpages | awk 'NR==2 {print $4}'").trim();
        report.diskNearlyFull = { deliveryStatus: delivery.status_code, syncLog, servedDuringFault: during.status, previousReleaseKept: during.text === before.text, freeKiBAfterFailedSync: Number(free) };
    } finally {
        unfill();
    }
    await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
    (report.diskNearlyFull as Record<string, unknown>).deployedAfterRepair = await deploysWithin(env, token, 60_000);

    // SSH cut in the middle of `up`: every authenticated SSH session is killed as soon as it
    // appears, for as long as the update runs, so each remote step dies half-way.
    await env.stack.setConfig("selfpages:siteKeepReleases", { value: "4" });
    await env.stack.setConfig("selfpages:syncSchedule", { value: "*/10 * * * *" });
    let cutting = true;
    let sessionsKilled = 0;
    const servedDuringCut: number[] = [];
    const cutter = (async () => {
        while (cutting) {
            try {
                // ^: not the shell that runs pkill, whose command line holds the pattern too.
                sessionsKilled += hostExec(env.host.name, "pkill -e -KILL -f '^sshd: root@' || true").split("\n").filter((l) => /killed/.test(l)).length;
            } catch {
                // the host may be busy; try again on the next tick
            }
            await sleep(100);
        }
    })();
    const prober = (async () => {
        while (cutting) {
            servedDuringCut.push((await version(env).catch(() => ({ status: 0 }))).status);
            await sleep(250);
        }
    })();
    let firstUp = "succeeded";
    try {
        await env.stack.up();
    } catch (error) {
        firstUp = `failed: ${String((error as Error).message).split("\n").find((l) => /error/i.test(l))?.trim().slice(0, 160) ?? "error"}`;
    } finally {
        cutting = false;
        await cutter;
        await prober;
    }
    const second = await env.stack.up();
    const preview = await env.stack.preview();
    report.sshCutDuringUp = {
        sessionsKilled,
        firstUp,
        siteAnswersDuringCut: Object.fromEntries([...new Set(servedDuringCut)].map((status) => [status, servedDuringCut.filter((s) => s === status).length])),
        secondUp: second.summary.result,
        previewChangesAfter: Object.entries(preview.changeSummary).filter(([op]) => op !== "same").length,
        crontab: hostExec(env.host.name, "crontab -u selfpages -l | grep -v '^#'").trim(),
    };

    // Host restart: all services stopped, every process killed, the default runlevel started.
    hostRestart(env.host.name);
    const tokenAfterRestart = crypto.randomBytes(6).toString("hex");
    const shaAfterRestart = env.publisher.publish({ "version.txt": tokenAfterRestart }, "after a restart");
    const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: shaAfterRestart });
    report.hostRestart = {
        services: hostExec(env.host.name, "rc-status default | grep -E 'nginx|selfpages|cron|ssh'").trim().split("\n").map((l) => l.replace(/\s+/g, " ").trim()),
        siteStatus: (await version(env)).status,
        deliveryStatus: delivery.status_code,
        deployed: await deploysWithin(env, tokenAfterRestart, 30_000),
    };
    return report;
}

async function main(): Promise<void> {
    const env = await startSandboxEnvironment("reliab");
    try {
        await env.stack.up();
        const hostile = await hostileInputs(env);
        console.error(`hostile inputs done: ${hostile.totalRequests} requests`);
        const faultReport = await faults(env);
        console.error("faults done");
        const configs = await invalidConfigRuns(env);
        const results = { date: new Date().toISOString(), hostile, faults: faultReport, configs };
        fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
        fs.writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
        console.log("| class | requests | statuses | 5xx | sync runs |\n|---|---|---|---|---|");
        for (const [name, c] of Object.entries(hostile.classes) as Array<[string, { requests: number; statuses: object; fiveXx: number; syncRuns: number }]>) {
            console.log(`| ${name} | ${c.requests} | ${JSON.stringify(c.statuses)} | ${c.fiveXx} | ${c.syncRuns} |`);
        }
        console.log(`\n${hostile.totalRequests} requests; afterwards a valid push answered ${hostile.afterwards.deliveryStatus} and deployed: ${hostile.afterwards.deployed}`);
        console.log(`${configs.configs} invalid configs: all rejected ${configs.allRejected}, all name the key ${configs.allNameTheKey}, connections made ${configs.connectionsMade} (valid control: ${configs.controlConnections})`);
        console.log(`faults: ${JSON.stringify(faultReport, null, 2)}`);
        console.log(`written to ${resultsFile}`);
    } finally {
        // Destroy needs the real host back.
        await env.stack.setConfig("selfpages:hostAddress", { value: env.host.address });
        await env.stack.setConfig("selfpages:hostPort", { value: "22" });
        await env.close();
    }
}

main().catch((error: unknown) => {
    console.error(`reliability: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
});
