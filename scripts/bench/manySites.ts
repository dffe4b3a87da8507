/**
 * Many sites on one host (issue 19): a sandbox serving 1 top-level site, then one serving 10 (built
 * one after the other, each its own host, TLS off). For each: `up` from bare and the no-op `up`;
 * push to served for every site while all of them are pushed at the same moment; the host's
 * memory at rest and the receiver's. The 1-site sandbox, measured the same way in the same run,
 * is the baseline.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { buildSandbox, type Sandbox as SandboxEnvironment } from "../../sandbox/build";
import { hostExec } from "../../sandbox/hostInstance";
import { percentile, round1, sleep } from "./common";

interface SiteUnderTest {
    name: string;
    repository: string;
    serverName: string;
}

/** A file of a site as a visitor gets it: through the host's address, the site's name as Host. */
function get(env: SandboxEnvironment, site: SiteUnderTest, file: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const request = http.get(`http://${env.host.address}/${file}`, { headers: { host: site.serverName }, timeout: 5000, agent: false }, (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (c: Buffer) => chunks.push(c));
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        });
        request.on("timeout", () => request.destroy(new Error(`GET ${file} of ${site.name} timed out`)));
        request.on("error", reject);
    });
}

/** Polls a site's version.txt until it is `token`; ms since `since`. */
async function servedAt(env: SandboxEnvironment, site: SiteUnderTest, token: string, since: number, timeoutMs: number, pollMs: number): Promise<number> {
    while (Date.now() - since < timeoutMs) {
        const res = await get(env, site, "version.txt").catch(() => ({ status: 0, body: "" }));
        if (res.status === 200 && res.body.trim() === token) return Date.now() - since;
        await sleep(pollMs);
    }
    throw new Error(`${site.name} did not serve ${token} within ${timeoutMs} ms`);
}

const syncLogOf = (env: SandboxEnvironment, site: SiteUnderTest) => path.join(env.host.rootfs, `var/log/selfpages/sites/${site.name}/sync.log`);
/** The short commits a site's sync logged as deployed (files/sync.sh: "deployed <7 hex> (previous ..."). */
const deployedCommits = (env: SandboxEnvironment, site: SiteUnderTest) =>
    fs.existsSync(syncLogOf(env, site)) ? [...fs.readFileSync(syncLogOf(env, site), "utf8").matchAll(/ deployed ([0-9a-f]{7}) /g)].map((m) => m[1]) : [];

/** Waits until no sync program has run on the host for `quietMs`. */
async function syncsSettled(env: SandboxEnvironment, timeoutMs: number, quietMs = 2000): Promise<void> {
    const started = Date.now();
    let lastSeen = Date.now();
    while (Date.now() - started < timeoutMs) {
        const running = Number(hostExec(env.host.name, "ps -eo comm= | grep -cx sync || true").trim());
        if (running > 0) lastSeen = Date.now();
        else if (Date.now() - lastSeen >= quietMs) return;
        await sleep(200);
    }
    throw new Error(`a sync still ran after ${timeoutMs} ms`);
}

/**
 * Rounds in which every site gets a new version.txt on its branch, then all deliveries leave at
 * one moment; each sample is one site's time from that moment to serving its own token.
 */
async function simultaneousPushes(env: SandboxEnvironment, sites: SiteUnderTest[], rounds: number, pollMs: number) {
    const samples: number[] = [];
    const answerMs: number[] = [];
    let sent = 0;
    let answered202 = 0;
    const shas = new Map<string, string[]>(sites.map((s) => [s.name, []]));
    const deployedBefore = new Map(sites.map((s) => [s.name, deployedCommits(env, s).length]));
    for (let round = 0; round < rounds; round++) {
        const pushes = sites.map((site) => {
            const token = crypto.randomBytes(6).toString("hex");
            const sha = env.publisherOf(site.repository).publish({ "version.txt": token }, `bench: many sites, round ${round}`);
            shas.get(site.name)!.push(sha);
            return { site, token, sha };
        });
        const moment = Date.now();
        const deliveries = pushes.map(async ({ site, sha }) => {
            sent++;
            const records = await env.standin.sendPush(site.repository, { ref: "refs/heads/gh-pages", after: sha });
            for (const d of records) {
                if (d.status_code === 202) answered202++;
                answerMs.push(d.duration * 1000);
            }
        });
        const served = pushes.map(({ site, token }) => servedAt(env, site, token, moment, 60_000, pollMs));
        await Promise.all(deliveries);
        samples.push(...(await Promise.all(served)));
        // The work after the switch (pruning, the spare copy, git maintenance) ends before the next round.
        await syncsSettled(env, 120_000, 500);
    }
    // Every push was deployed by its own site's sync: its commit in that site's log.
    const deploys: Record<string, number> = {};
    for (const site of sites) {
        const logged = deployedCommits(env, site);
        deploys[site.name] = logged.length - deployedBefore.get(site.name)!;
        const missing = shas.get(site.name)!.filter((sha) => !logged.includes(sha.slice(0, 7)));
        if (missing.length > 0) throw new Error(`${site.name}: ${missing.length} of ${rounds} pushed commits not logged as deployed (${missing.map((s) => s.slice(0, 7)).join(", ")})`);
    }
    const deploysSeen = Object.values(deploys).reduce((a, b) => a + b, 0);
    if (sent !== rounds * sites.length || answered202 !== sent) throw new Error(`${sent} pushes sent, ${answered202} deliveries answered 202 (expected ${rounds * sites.length} each)`);
    if (samples.length !== sent) throw new Error(`${samples.length} served samples for ${sent} pushes`);
    return {
        rounds,
        sites: sites.length,
        pollMs,
        counts: { pushesSent: sent, deliveriesAnswered202: answered202, deploysInSyncLogs: deploysSeen, deploysPerSite: deploys },
        pushToServedMs: { samples: samples.length, p50: percentile(samples, 50), p95: percentile(samples, 95), max: Math.max(...samples) },
        deliveryAnswerMs: { p50: round1(percentile(answerMs, 50)), p95: round1(percentile(answerMs, 95)) },
    };
}

/**
 * Memory of the serving programs at rest, read inside the host from /proc: RSS sums count a
 * shared page (the binary, libc, nginx's workers sharing the master's pages) once per process;
 * PSS divides it among the processes sharing it, so the PSS sum is what the programs take from
 * the host's RAM together. (MemAvailable would be this whole machine's, shared with other work.)
 */
function memoryAtRest(env: SandboxEnvironment) {
    const programs: Record<string, string> = { nginx: "nginx", webhook: "webhook", cron: "cron|crond", "supervise-daemon": "supervise-daem.*" };
    const byProgram: Record<string, { processes: number; rssMiB: number; pssMiB: number }> = {};
    let rss = 0;
    let pss = 0;
    for (const [name, comm] of Object.entries(programs)) {
        const out = hostExec(
            env.host.name,
            `for p in $(ps -eo pid=,comm= | awk '$2 ~ /^(${comm})$/ {print $1}'); do awk -v p=$p '/^Rss:/ {r=$2} /^Pss:/ {s=$2} END {if (r != "") print r, s}' /proc/$p/smaps_rollup 2>/dev/null; done`,
        );
        const rows = out.trim().split("\n").filter(Boolean).map((l) => l.split(" ").map(Number));
        if (rows.length === 0) throw new Error(`no ${name} process on the host`);
        const group = { processes: rows.length, rss: rows.reduce((a, r) => a + r[0], 0), pss: rows.reduce((a, r) => a + r[1], 0) };
        byProgram[name] = { processes: group.processes, rssMiB: round1(group.rss / 1024), pssMiB: round1(group.pss / 1024) };
        rss += group.rss;
        pss += group.pss;
    }
    // One receiver serves every site: its resident size now, and its peak (VmHWM) since it started.
    const status = Object.fromEntries(
        hostExec(env.host.name, `p=$(ps -eo pid=,comm= | awk '$2 == "webhook" {print $1}'); [ "$(echo "$p" | wc -w)" = 1 ] && awk '/^(VmRSS|VmHWM):/ {print $1, $2}' /proc/$p/status`)
            .trim()
            .split("\n")
            .map((line) => [line.split(":")[0], Number(line.split(/\s+/)[1])]),
    ) as Record<string, number>;
    if (!(status.VmRSS > 0 && status.VmHWM > 0)) throw new Error(`the receiver's status: ${JSON.stringify(status)}`);
    const receiver = { rssMiB: round1(status.VmRSS / 1024), peakRssMiB: round1(status.VmHWM / 1024) };
    return {
        byProgram,
        totalRssMiB: round1(rss / 1024),
        totalPssMiB: round1(pss / 1024),
        receiver,
    };
}

const resources = (changes: Record<string, number> | undefined) => Object.values(changes ?? {}).reduce((a, b) => a + b, 0);

async function oneSandbox(name: string, count: number, rounds: { together: number; alone: number }, pollMs: number) {
    const sites: SiteUnderTest[] = Array.from({ length: count }, (_, i) => ({ name: `s${i + 1}`, repository: `selfpages/s${i + 1}`, serverName: `s${i + 1}.selfpages.test` }));
    const env = await buildSandbox({
        name,
        sites: sites.map((s) => ({ name: s.name, repository: s.repository, serverNames: [s.serverName] })),
        // No fallback sync during the figures: only the bench's pushes deploy.
        config: { syncSchedule: "0 0 1 1 *" },
    });
    try {
        const t0 = Date.now();
        const bare = await env.stack.up();
        const upFromBareSeconds = round1((Date.now() - t0) / 1000);
        if (bare.summary.result !== "succeeded") throw new Error(`${name}: up from bare ${bare.summary.result}`);
        for (const site of sites) {
            const res = await get(env, site, "");
            if (res.status !== 200 || !res.body.includes("Do-It")) throw new Error(`${site.name} answered ${res.status} after up from bare`);
        }
        const t1 = Date.now();
        const noop = await env.stack.up();
        const upNoopSeconds = round1((Date.now() - t1) / 1000);
        const changed = Object.entries(noop.summary.resourceChanges ?? {}).filter(([op]) => op !== "same");
        if (changed.length > 0) throw new Error(`${name}: the no-op up changed ${JSON.stringify(Object.fromEntries(changed))}`);
        const pushes = await simultaneousPushes(env, sites, rounds.together, pollMs);
        // With many sites, the first pushed alone too: what the other sites' configuration costs it
        // when nothing else deploys (the difference from the 1-site host's figure).
        const firstPushedAlone = count > 1 ? await simultaneousPushes(env, [sites[0]], rounds.alone, pollMs) : undefined;
        await syncsSettled(env, 120_000);
        // Let nginx's reloads and the receiver's garbage collector settle, as a host between pushes.
        await sleep(5000);
        const figures = { sites: count, upFromBareSeconds, upNoopSeconds, noopResources: resources(noop.summary.resourceChanges), noopChanges: changed.length, pushes, ...(firstPushedAlone ? { firstPushedAlone } : {}), memoryAtRest: memoryAtRest(env) };
        console.error(`bench: manySites, ${count} site(s): ${JSON.stringify(figures)}`);
        return figures;
    } finally {
        await env.close();
    }
}

const ratio = (a: number, b: number) => Number((a / b).toFixed(2));

/** `rounds.one`: pushes of the 1-site host (and of one site alone on the 10-site host); `rounds.many`: rounds of 10 at once. */
export async function manySites(prefix: string, rounds: { one: number; many: number }, pollMs: number) {
    const one = await oneSandbox(`${prefix}-s1`, 1, { together: rounds.one, alone: 0 }, pollMs);
    const many = await oneSandbox(`${prefix}-s10`, 10, { together: rounds.many, alone: rounds.one }, pollMs);
    return {
        oneSite: one,
        tenSites: many,
        tenAgainstOne: {
            upFromBare: ratio(many.upFromBareSeconds, one.upFromBareSeconds),
            upNoop: ratio(many.upNoopSeconds, one.upNoopSeconds),
            pushToServedP50: ratio(many.pushes.pushToServedMs.p50, one.pushes.pushToServedMs.p50),
            pushToServedP95: ratio(many.pushes.pushToServedMs.p95, one.pushes.pushToServedMs.p95),
            memoryAtRestPss: ratio(many.memoryAtRest.totalPssMiB, one.memoryAtRest.totalPssMiB),
            receiverRss: ratio(many.memoryAtRest.receiver.rssMiB, one.memoryAtRest.receiver.rssMiB),
        },
    };
}
