/**
 * Hostile requests through nginx to the receiver, by class: for each class the status codes, the
 * 5xx answers, and the syncs they caused (read from the host's sync log), then proof that the
 * receiver still deploys a valid push.
 */
import * as crypto from "node:crypto";
import * as http from "node:http";
import type { Sandbox as SandboxEnvironment } from "../../sandbox/build";
import { Checks, countBy, deploysWithin, publishToken, sign, sleep, syncRuns } from "./common";

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

function pushBody(env: SandboxEnvironment, overrides: Record<string, unknown> = {}): Buffer {
    return Buffer.from(JSON.stringify({ ref: "refs/heads/gh-pages", after: env.publisher.head(), repository: { full_name: env.repository, name: "site", owner: { login: "selfpages" } }, ...overrides }));
}

function githubHeaders(event = "push"): Record<string, string> {
    return { "content-type": "application/json", "x-github-event": event, "x-github-delivery": crypto.randomUUID(), "user-agent": "GitHub-Hookshot/bench" };
}

const label = (status: number) => (status === CLOSED_BY_SERVER ? "closed by server" : status === CLIENT_GAVE_UP ? "client gave up" : String(status));

interface HostileClass {
    probes: Probe[];
    /** The answers this class must get, as labelled in the report. */
    expected: string[];
    /** A valid delivery: it may cause syncs (up to date); the others must cause none. */
    valid: boolean;
}

function corpus(env: SandboxEnvironment, secret: string): Record<string, HostileClass> {
    const n = 20;
    const many = (make: (i: number) => Probe, count = n) => Array.from({ length: count }, (_, i) => make(i));
    const signed = (body: Buffer, headers = githubHeaders()) => ({ ...headers, "x-hub-signature-256": sign(secret, body) });
    const big = Buffer.alloc(26 * 1024 * 1024, 0x20);
    const replayBody = pushBody(env);
    const replayHeaders = signed(replayBody);
    const refused = { expected: ["403"], valid: false };
    const ignored = { expected: ["202"], valid: false };
    return {
        "missing signature": { ...refused, probes: many(() => ({ headers: githubHeaders(), body: pushBody(env) })) },
        "malformed signature": {
            ...refused,
            probes: many((i) => ({ headers: { ...githubHeaders(), "x-hub-signature-256": ["sha256=", "sha256=zz", "md5=abc", "garbage", `sha256=${"0".repeat(63)}`][i % 5] }, body: pushBody(env) })),
        },
        "SHA-1 signature only": { ...refused, probes: many(() => { const body = pushBody(env); return { headers: { ...githubHeaders(), "x-hub-signature": sign(secret, body, "sha1") }, body }; }) },
        "wrong secret": { ...refused, probes: many(() => { const body = pushBody(env); return { headers: { ...githubHeaders(), "x-hub-signature-256": sign("not-the-secret", body) }, body }; }) },
        "truncated body": { ...refused, probes: many(() => { const body = pushBody(env); return { headers: { ...signed(body), "content-length": String(body.length - 10) }, body, sendBytes: body.length - 10 }; }) },
        "oversized body (26 MB)": { expected: ["413"], valid: false, probes: many(() => ({ headers: { ...githubHeaders(), "x-hub-signature-256": sign(secret, big) }, body: big }), 5) },
        "wrong repository": { ...ignored, probes: many(() => { const body = pushBody(env, { repository: { full_name: "someone/else" } }); return { headers: signed(body), body }; }) },
        "wrong ref": { ...ignored, probes: many((i) => { const body = pushBody(env, { ref: ["refs/heads/main", "refs/tags/v1", "refs/heads/gh-pages-old", ""][i % 4] }); return { headers: signed(body), body }; }) },
        "malformed JSON": { ...ignored, probes: many((i) => { const body = Buffer.from(['{"ref": "refs/heads/gh-pages"', "[1,2", "null", "\u0000\u0001"][i % 4]); return { headers: signed(body), body }; }) },
        "form-encoded payload": {
            ...ignored,
            probes: many(() => { const body = Buffer.from(`payload=${encodeURIComponent(pushBody(env).toString())}`); return { headers: { ...signed(body), "content-type": "application/x-www-form-urlencoded" }, body }; }),
        },
        "wrong method": { expected: ["405"], valid: false, probes: many((i) => ({ method: ["GET", "PUT", "DELETE", "PATCH", "HEAD"][i % 5], headers: githubHeaders(), body: i % 5 === 0 || i % 5 === 4 ? undefined : pushBody(env) })) },
        "wrong path": { expected: ["404", "405"], valid: false, probes: many((i) => { const body = pushBody(env); return { path: ["/", "/index.html", "/webhook/", "/webhook2", "/hooks/selfpages"][i % 5], headers: signed(body), body }; }) },
        "slow-body client": { expected: ["closed by server"], valid: false, probes: many(() => ({ headers: signed(pushBody(env)), body: pushBody(env), slowMs: 25_000 }), 5) },
        "replayed valid delivery": { expected: ["202"], valid: true, probes: many(() => ({ headers: replayHeaders, body: replayBody }), 10) },
    };
}

export async function hostileInputs(env: SandboxEnvironment, checks: Checks) {
    const drill = "hostile requests";
    const secret = env.standin.hooks(env.repository)[0].config.secret as string;
    const report: Record<string, unknown> = {};
    let total = 0;
    for (const [name, { probes, expected, valid }] of Object.entries(corpus(env, secret))) {
        const before = syncRuns(env);
        const statuses = name === "slow-body client" ? await Promise.all(probes.map((p) => send(env.host.address, p))) : [];
        if (statuses.length === 0) for (const probe of probes) statuses.push(await send(env.host.address, probe));
        await sleep(1500);
        const counts = countBy(statuses, label);
        const fiveXx = statuses.filter((s) => s >= 500).length;
        const runs = syncRuns(env) - before;
        total += probes.length;
        report[name] = { requests: probes.length, statuses: counts, fiveXx, syncRuns: runs, expectSyncRuns: valid ? "up-to-date runs only" : 0 };
        checks.expect(drill, `${name}: every answer is ${expected.join(" or ")}`, Object.keys(counts).every((s) => expected.includes(s)), counts);
        checks.expect(drill, `${name}: no 5xx`, fiveXx === 0, fiveXx);
        checks.expect(drill, `${name}: ${valid ? "at least one sync" : "no sync"}`, valid ? runs > 0 : runs === 0, runs);
    }
    checks.expect(drill, "at least 200 hostile requests were sent (load happened)", total >= 200, total);
    // Still serving and still deploying afterwards.
    const { sha, token } = publishToken(env, "after the hostile corpus");
    const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
    const deployed = await deploysWithin(env, token, 10_000);
    checks.expect(drill, "afterwards a valid push is answered 202 and deployed", delivery.status_code === 202 && deployed, { status: delivery.status_code, deployed });
    return { totalRequests: total, classes: report, afterwards: { deliveryStatus: delivery.status_code, deployed } };
}
