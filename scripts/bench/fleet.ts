/**
 * A fleet (issue 20): one stack serving a site with HTTPS from 1 server (the one-server form), then
 * from 5 (the `servers` form), each sandbox built in turn on this machine. For each: `up` from bare
 * (certificate included), the no-op `up`, push to served on every server (the time until the last
 * server serves the pushed commit), and the CA's orders: at the first `up`, and for one renewal of
 * the fleet (forced on the first server, then the peers' periodic pull run as their job runs it).
 * The 1-server sandbox, measured the same way in the same run, is the baseline.
 */
import * as crypto from "node:crypto";
import * as https from "node:https";
import { buildSandbox, tlsServerNames, type Sandbox as SandboxEnvironment } from "../../sandbox/build";
import type { SandboxHost } from "../../sandbox/hostInstance";
import { hostExec } from "../../sandbox/hostInstance";
import type { SandboxAcme } from "../../sandbox/acme/pebble";
import { cpuSeconds, machineBusySeconds } from "../procTree";
import { percentile, round1, sleep } from "./common";

const siteName = tlsServerNames[0];

/**
 * `up` of a bare sandbox, and where the machine's CPU went meanwhile: the controller (the CLI with
 * the program and plugins under it: the children's CPU of this process), this process (the
 * GitHub stand-in, the Automation API), and the rest: the hosts' own work (sshd and the steps'
 * commands, nginx, the receivers, the ACME client), pebble and its DNS, the kernel. On real servers
 * the hosts' part runs on each server's own CPU; here all of it shares this machine's cores.
 */
async function timedUpFromBare(env: SandboxEnvironment, label: string) {
    const busy0 = machineBusySeconds();
    const own0 = cpuSeconds("self");
    const started = Date.now();
    const result = await env.stack.up();
    const seconds = round1((Date.now() - started) / 1000);
    if (result.summary.result !== "succeeded") throw new Error(`${label}: up from bare ${result.summary.result}`);
    const own1 = cpuSeconds("self");
    const busy = machineBusySeconds() - busy0;
    const controller = own1.children - own0.children;
    const benchProcess = own1.own - own0.own;
    return {
        seconds,
        cpuSeconds: { machine: round1(busy), controller: round1(controller), benchProcess: round1(benchProcess), hostsAndRest: round1(busy - controller - benchProcess) },
    };
}

/** A file of the site from one server, over HTTPS with the site's name, verified against pebble's root. */
function getFrom(host: SandboxHost, ca: string, file: string): Promise<{ status: number; body: string; serial: string }> {
    return new Promise((resolve, reject) => {
        const request = https.get({ host: host.address, path: file, servername: siteName, headers: { host: siteName }, ca, agent: false, timeout: 5000 }, (response) => {
            const chunks: Buffer[] = [];
            const serial = String((response.socket as import("node:tls").TLSSocket).getPeerCertificate().serialNumber ?? "");
            response.on("data", (c: Buffer) => chunks.push(c));
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), serial }));
        });
        request.on("timeout", () => request.destroy(new Error(`GET ${file} from ${host.name} timed out`)));
        request.on("error", reject);
    });
}

async function servedEverywhere(servers: SandboxHost[], ca: string, token: string, since: number, timeoutMs: number, pollMs: number): Promise<number> {
    const times = await Promise.all(
        servers.map(async (host) => {
            while (Date.now() - since < timeoutMs) {
                const res = await getFrom(host, ca, "/version.txt").catch(() => ({ status: 0, body: "", serial: "" }));
                if (res.status === 200 && res.body.trim() === token) return Date.now() - since;
                await sleep(pollMs);
            }
            throw new Error(`${host.name} did not serve ${token} within ${timeoutMs} ms`);
        }),
    );
    return Math.max(...times);
}

const changes = (summary: Record<string, number> | undefined) => Object.entries(summary ?? {}).filter(([op]) => op !== "same");
const resources = (summary: Record<string, number> | undefined) => Object.values(summary ?? {}).reduce((a, b) => a + b, 0);

/** The lead renews now; each peer runs its pull as its job does; every server then serves the new certificate. */
async function renewal(env: SandboxEnvironment, acme: SandboxAcme, servers: SandboxHost[], ca: string) {
    const [lead, ...peers] = servers;
    const before = (await getFrom(lead, ca, "/")).serial;
    const issuedBefore = acme.issuedCertificates();
    const started = Date.now();
    hostExec(lead.name, "SELFPAGES_ACME_CONF=/etc/selfpages/sites/selfpages/acme.conf /usr/local/lib/selfpages/acme-renew force");
    // nginx's reload is graceful: its old workers may answer a moment longer with the old certificate.
    const serialOf = async (host: SandboxHost) => (await getFrom(host, ca, "/").catch(() => ({ serial: "" }))).serial;
    const until = async (host: SandboxHost, done: (serial: string) => boolean) => {
        let serial = await serialOf(host);
        for (const deadline = Date.now() + 15_000; !done(serial) && Date.now() < deadline; serial = await serialOf(host)) await sleep(100);
        return serial;
    };
    const renewed = await until(lead, (serial) => serial !== "" && serial !== before);
    // Each peer's job, as cron runs it, without its random wait of up to a minute (which spreads the fleet's pulls at the lead).
    for (const peer of peers) hostExec(peer.name, "SELFPAGES_CERT_PULL_SPLAY=0 /usr/local/lib/selfpages/cert-pull cron");
    const serials = [renewed, ...(await Promise.all(peers.map((peer) => until(peer, (serial) => serial === renewed))))];
    const seconds = round1((Date.now() - started) / 1000);
    const orders = acme.issuedCertificates() - issuedBefore;
    if (serials.some((s) => s === before || s !== serials[0])) throw new Error(`after the renewal the servers serve ${JSON.stringify(serials)} (before: ${before})`);
    if (orders < 1) throw new Error("the renewal issued no certificate at the CA: nothing was renewed");
    return { certificates: 1, caOrders: orders, ordersPerCertificate: orders, serversServingTheNewCertificate: serials.length, seconds };
}

async function oneFleet(name: string, count: number, rounds: number, pollMs: number) {
    const env = await buildSandbox({ name, hosts: count, fleet: count > 1, tls: true, config: { syncSchedule: "0 0 1 1 *" } });
    try {
        const acme = env.acme as SandboxAcme;
        const ca = await acme.rootCa();
        const servers = env.hosts;
        const bare = await timedUpFromBare(env, name);
        const upFromBareSeconds = bare.seconds;
        const ordersAtFirstUp = acme.issuedCertificates();
        for (const host of servers) {
            const res = await getFrom(host, ca, "/");
            if (res.status !== 200) throw new Error(`${host.name} answered ${res.status} after up from bare`);
        }
        const t1 = Date.now();
        const noop = await env.stack.up();
        const upNoopSeconds = round1((Date.now() - t1) / 1000);
        if (changes(noop.summary.resourceChanges).length > 0) throw new Error(`${name}: the no-op up changed ${JSON.stringify(noop.summary.resourceChanges)}`);

        const samples: number[] = [];
        let delivered202 = 0;
        for (let round = 0; round < rounds; round++) {
            const token = crypto.randomBytes(6).toString("hex");
            const sha = env.publisher.publish({ "version.txt": token }, `bench: fleet round ${round}`);
            const moment = Date.now();
            const deliveries = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
            delivered202 += deliveries.filter((d) => d.status_code === 202).length;
            samples.push(await servedEverywhere(servers, ca, token, moment, 60_000, pollMs));
            await sleep(300);
        }
        if (delivered202 !== rounds * count) throw new Error(`${delivered202} deliveries answered 202 for ${rounds} pushes to ${count} servers`);
        const figures = {
            servers: count,
            upFromBareSeconds,
            upFromBareCpuSeconds: bare.cpuSeconds,
            upNoopSeconds,
            noopResources: resources(noop.summary.resourceChanges),
            pushToServedOnEveryServerMs: { rounds, deliveriesAnswered202: delivered202, pollMs, p50: percentile(samples, 50), p95: percentile(samples, 95), max: Math.max(...samples) },
            caOrdersAtFirstUp: ordersAtFirstUp,
            renewal: await renewal(env, acme, servers, ca),
        };
        console.error(`bench: fleet, ${count} server(s): ${JSON.stringify(figures)}`);
        return figures;
    } finally {
        await env.close();
    }
}

const ratio = (a: number, b: number) => Number((a / b).toFixed(2));

/** Only `up` from bare, on a sandbox built for it: the extra samples of the comparison. */
async function upFromBareOnly(name: string, count: number, cliEnv: Record<string, string> = {}) {
    const env = await buildSandbox({ name, hosts: count, fleet: count > 1, tls: true, config: { syncSchedule: "0 0 1 1 *" } });
    try {
        Object.assign(env.stack.workspace.envVars, cliEnv);
        return await timedUpFromBare(env, name);
    } finally {
        await env.close();
    }
}

export async function fleet(prefix: string, rounds: number, pollMs: number, upSamples = 3) {
    const one = await oneFleet(`${prefix}-f1`, 1, rounds, pollMs);
    const five = await oneFleet(`${prefix}-f5`, 5, rounds, pollMs);
    // `up` from bare varies by a second or more from run to run on a shared machine: more samples,
    // 1 and 5 servers in turn, and the ratio of the medians.
    const oneUps = [{ seconds: one.upFromBareSeconds, cpuSeconds: one.upFromBareCpuSeconds }];
    const fiveUps = [{ seconds: five.upFromBareSeconds, cpuSeconds: five.upFromBareCpuSeconds }];
    for (let sample = 1; sample < upSamples; sample++) {
        oneUps.push(await upFromBareOnly(`${prefix}-u1`, 1));
        fiveUps.push(await upFromBareOnly(`${prefix}-u5`, 5));
    }
    const upFromBare = (ups: typeof oneUps) => ({ medianSeconds: percentile(ups.map((u) => u.seconds), 50), runs: ups });
    const oneUp = upFromBare(oneUps);
    const fiveUp = upFromBare(fiveUps);
    // Where the fleet's extra time goes: the file backend writes the whole state after every step
    // (twice per resource), so its cost grows with resources × state size. Measured, not used:
    // PULUMI_SKIP_CHECKPOINTS writes it only at the end, and an interrupted `up` then loses track
    // of what it created.
    const skip = { PULUMI_SKIP_CHECKPOINTS: "true" };
    const withoutCheckpoints = { oneServer: await upFromBareOnly(`${prefix}-c1`, 1, skip), fiveServers: await upFromBareOnly(`${prefix}-c5`, 5, skip) };
    return {
        oneServer: one,
        fiveServers: five,
        upFromBare: {
            samples: upSamples,
            oneServer: oneUp,
            fiveServers: fiveUp,
            diagnosticWithoutIntermediateCheckpoints: { ...withoutCheckpoints, fiveAgainstOne: ratio(withoutCheckpoints.fiveServers.seconds, withoutCheckpoints.oneServer.seconds) },
        },
        fiveAgainstOne: {
            upFromBare: ratio(fiveUp.medianSeconds, oneUp.medianSeconds),
            upNoop: ratio(five.upNoopSeconds, one.upNoopSeconds),
            pushToServedP95: ratio(five.pushToServedOnEveryServerMs.p95, one.pushToServedOnEveryServerMs.p95),
        },
        goals: {
            upFromBareAtMostTwiceOneServer: fiveUp.medianSeconds <= 2 * oneUp.medianSeconds,
            pushToServedP95AtMost1s: five.pushToServedOnEveryServerMs.p95 <= 1000,
            oneOrderPerCertificatePerRenewal: five.renewal.ordersPerCertificate === 1,
        },
    };
}
