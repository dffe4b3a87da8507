import { createHmac, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import examples from "@octokit/webhooks-examples";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hookId, hooksFile } from "../../lib/hostFiles";
import { validConfig } from "../lib/fixtures";
import { Daemon, freePort, isAlive, request, sleep, createTempDir, tempDir, waitForPort } from "./support";

/**
 * The rendered hooks file: its rule shape, then the real webhook binary (adnanh/webhook) answering
 * signed deliveries built from GitHub's example payloads, with the command replaced by a stub that
 * records its arguments.
 */

// An ESM-only package: imported at run time, typed here (CJS module resolution can't see its exports).
type Sign = (secret: string, payload: string) => Promise<string>;
let sign: Sign;

const current = "current-secret-4f9c2a7e1b";
const previous = "previous-secret-8d3e6b0a5c";
const rotated = "rotated-secret-1a2b3c4d5e";

/** GitHub's example payload of an event (@octokit/webhooks-examples), for the site's repository. */
function examplePayload(event: "push" | "ping", changes: Record<string, unknown>): Record<string, unknown> {
    const group = (examples as unknown as Array<{ name: string; examples: Array<Record<string, unknown>> }>).find((g) => g.name === event);
    if (!group) throw new Error(`no ${event} example in @octokit/webhooks-examples`);
    const payload = structuredClone(group.examples[0]);
    const repository = { ...(payload.repository as Record<string, unknown>), name: "do-it", full_name: "do-it-ecm/do-it" };
    return { ...payload, repository, ...changes };
}
const pushPayload = (ref: string) => examplePayload("push", { ref, before: "a".repeat(40), after: "b".repeat(40) });
const pingPayload = () => examplePayload("ping", { hook_id: 42, zen: "Keep it logically awesome." });

interface HookRule {
    id: string;
    "execute-command": string;
    "command-working-directory": string;
    "http-methods": string[];
    "response-message": string;
    "success-http-response-code": number;
    "trigger-rule-mismatch-http-response-code": number;
    "trigger-signature-soft-failures": boolean;
    "pass-arguments-to-command": Array<{ source: string; name: string }>;
    "trigger-rule": { or: Array<{ match: { type: string; secret: string; parameter: { source: string; name: string } } }> };
}

function parseHooks(content: string): HookRule[] {
    return JSON.parse(content) as HookRule[];
}

const { settings } = validConfig({}, "alpine");

describe("hooks.json: rendered rule", () => {
    it("is the same file on alpine and debian", () => {
        expect(hooksFile(validConfig({}, "debian").settings, [current, previous]).content).toBe(hooksFile(settings, [current, previous]).content);
    });

    it("accepts either secret while rotating: an `or` of two HMAC-SHA256 matches with soft failures", () => {
        const hooks = parseHooks(hooksFile(settings, [current, previous]).content);
        expect(hooks).toHaveLength(1);
        const [hook] = hooks;
        expect(hook.id).toBe(hookId);
        expect(hook["execute-command"]).toBe(settings.layout.syncScript);
        expect(hook["command-working-directory"]).toBe(settings.layout.stateDir);
        expect(hook["http-methods"]).toEqual(["POST"]);
        expect(hook["success-http-response-code"]).toBe(202);
        expect(hook["trigger-rule-mismatch-http-response-code"]).toBe(403);
        expect(hook["trigger-signature-soft-failures"]).toBe(true);
        expect(hook["pass-arguments-to-command"]).toEqual([
            { source: "string", name: "webhook" },
            { source: "header", name: "X-GitHub-Event" },
            { source: "payload", name: "ref" },
            { source: "payload", name: "repository.full_name" },
            { source: "header", name: "X-GitHub-Delivery" },
            // The pushed commit: what a failure is reported against when the sync cannot read the branch.
            { source: "payload", name: "after" },
        ]);
        expect(Object.keys(hook["trigger-rule"])).toEqual(["or"]);
        expect(hook["trigger-rule"].or).toEqual(
            [current, previous].map((secret) => ({ match: { type: "payload-hmac-sha256", secret, parameter: { source: "header", name: "X-Hub-Signature-256" } } })),
        );
        // Nothing that would put the command's output (and the sync's time) into the answer.
        expect(JSON.stringify(hook)).not.toMatch(/include-command-output|capture-command-output/);
    });

    it("has a single match with one secret, and deduplicates a repeated one", () => {
        for (const secrets of [[current], [current, current]]) {
            const [hook] = parseHooks(hooksFile(settings, secrets).content);
            expect(hook["trigger-rule"].or).toHaveLength(1);
            expect(hook["trigger-rule"].or[0].match.secret).toBe(current);
        }
    });

    it("escapes secrets as JSON strings", () => {
        const odd = 'a"b\\c\nd/é';
        const [hook] = parseHooks(hooksFile(settings, [odd]).content);
        expect(hook["trigger-rule"].or[0].match.secret).toBe(odd);
    });
});

describe("hooks.json: the real webhook receiver", () => {
    const dir = tempDir("hooks");
    const hooksPath = path.join(dir, "hooks.json");
    const workDir = path.join(dir, "work");
    const stub = path.join(dir, "stub-sync");
    const callsFile = path.join(dir, "calls");
    const slowFlag = path.join(dir, "slow");
    const slowDone = path.join(dir, "slow-done");
    let port = 0;
    let webhook: Daemon | undefined;

    /**
     * The layout's sync script path is fixed (/usr/local/lib/selfpages/sync) and so is the state
     * directory: the test rewrites those two fields of the rendered rule, and only those.
     */
    function writeHooks(secrets: string[]): void {
        const hooks = parseHooks(hooksFile(settings, secrets).content);
        hooks[0]["execute-command"] = stub;
        hooks[0]["command-working-directory"] = workDir;
        fs.writeFileSync(hooksPath, JSON.stringify(hooks, null, 2), { mode: 0o600 });
    }

    interface Call {
        cwd: string;
        args: string[];
    }
    function calls(): Call[] {
        if (!fs.existsSync(callsFile)) return [];
        return fs
            .readFileSync(callsFile, "utf8")
            .split("\n")
            .filter((line) => line !== "")
            .map((line) => {
                const [cwd, ...args] = line.split("\x1f").slice(0, -1);
                return { cwd, args };
            });
    }
    async function waitForCall(delivery: string, timeoutMs = 5_000): Promise<Call> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const call = calls().find((c) => c.args[4] === delivery);
            if (call) return call;
            if (Date.now() > deadline) throw new Error(`the command never ran for delivery ${delivery}; calls: ${JSON.stringify(calls())}\n${webhook?.output}`);
            await sleep(25);
        }
    }

    interface Delivery {
        event: string;
        payload: Record<string, unknown>;
        secret?: string;
        headers?: Record<string, string>;
        tamper?: (body: string) => string;
    }
    async function deliver(d: Delivery): Promise<{ status: number; body: string; delivery: string; ms: number }> {
        const delivery = randomUUID();
        const body = JSON.stringify(d.payload);
        const headers: Record<string, string> = {
            "content-type": "application/json",
            "user-agent": "GitHub-Hookshot/044aadd",
            "x-github-event": d.event,
            "x-github-delivery": delivery,
            "x-github-hook-id": "42",
            ...(d.secret === undefined ? {} : { "x-hub-signature-256": await sign(d.secret, body) }),
            ...d.headers,
        };
        const started = Date.now();
        const res = await request(port, "POST", `/hooks/${hookId}`, { headers, body: d.tamper ? d.tamper(body) : body });
        return { status: res.status, body: res.body.toString(), delivery, ms: Date.now() - started };
    }
    const push = (ref = "refs/heads/gh-pages") => pushPayload(ref);

    beforeAll(async () => {
        sign = ((await import("@octokit/webhooks-methods" as string)) as { sign: Sign }).sign;
        createTempDir(dir);
        fs.mkdirSync(workDir);
        // Records its working directory and arguments (unit-separated, so an empty one shows), in
        // one append; sleeps when asked to, to show the receiver does not wait for it.
        fs.writeFileSync(
            stub,
            [
                "#!/bin/sh",
                `line="$(pwd)$(printf '\\037')"`,
                `for arg in "$@"; do line="$line$arg$(printf '\\037')"; done`,
                `printf '%s\\n' "$line" >>${JSON.stringify(callsFile)}`,
                `if [ -e ${JSON.stringify(slowFlag)} ]; then sleep 3; echo done >>${JSON.stringify(slowDone)}; fi`,
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
        writeHooks([current, previous]);
        port = await freePort();
        // The flags of the OpenRC service (templates/receiver.initd.hbs), without -verbose.
        webhook = new Daemon("webhook", ["-hooks", hooksPath, "-ip", "127.0.0.1", "-port", String(port), "-urlprefix", "hooks", "-nopanic"], { cwd: dir });
        await waitForPort(port, webhook.child, () => webhook?.output ?? "");
    });

    afterAll(async () => {
        const pid = webhook?.child.pid;
        await webhook?.stop("SIGTERM");
        if (pid) expect(isAlive(pid)).toBe(false);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("answers a push signed with the current secret with 202 and runs the command once with its arguments", async () => {
        const res = await deliver({ event: "push", payload: push(), secret: current });
        expect(res.status).toBe(202);
        expect(res.body).toBe("accepted\n");
        const call = await waitForCall(res.delivery);
        expect(call.args).toEqual(["webhook", "push", "refs/heads/gh-pages", "do-it-ecm/do-it", res.delivery, "b".repeat(40)]);
        expect(fs.realpathSync(call.cwd)).toBe(fs.realpathSync(workDir));
        await sleep(200);
        expect(calls().filter((c) => c.args[4] === res.delivery)).toHaveLength(1);
    });

    it("accepts a push signed with the previous secret (rotation)", async () => {
        const res = await deliver({ event: "push", payload: push("refs/heads/main"), secret: previous });
        expect(res.status).toBe(202);
        expect((await waitForCall(res.delivery)).args).toEqual(["webhook", "push", "refs/heads/main", "do-it-ecm/do-it", res.delivery, "b".repeat(40)]);
    });

    it("accepts a ping (no ref, no after) with 202 and passes them empty", async () => {
        const payload = pingPayload();
        expect(payload).not.toHaveProperty("ref");
        const res = await deliver({ event: "ping", payload, secret: current });
        expect(res.status).toBe(202);
        expect((await waitForCall(res.delivery)).args).toEqual(["webhook", "ping", "", "do-it-ecm/do-it", res.delivery, ""]);
    });

    it("refuses unsigned, wrongly signed, SHA-1-only and tampered deliveries with 403, running nothing", async () => {
        const before = calls().length;
        const refused = [
            await deliver({ event: "push", payload: push() }),
            await deliver({ event: "push", payload: push(), secret: "not-the-secret" }),
            await (async () => {
                // Signed with an empty key (what a receiver with a lost secret would accept).
                const payload = push();
                const empty = `sha256=${createHmac("sha256", "").update(JSON.stringify(payload)).digest("hex")}`;
                return deliver({ event: "push", payload, headers: { "x-hub-signature-256": empty } });
            })(),
            await deliver({ event: "push", payload: push(), headers: { "x-hub-signature-256": "sha256=" } }),
            await deliver({ event: "push", payload: push(), headers: { "x-hub-signature-256": "sha1=0000" } }),
            await (async () => {
                // GitHub's legacy header alone, correct for the body: SHA-1 is not accepted.
                const payload = push();
                const sha1 = `sha1=${createHmac("sha1", current).update(JSON.stringify(payload)).digest("hex")}`;
                return deliver({ event: "push", payload, headers: { "x-hub-signature": sha1 } });
            })(),
            await deliver({ event: "push", payload: push(), secret: current, tamper: (body) => body.replace("refs/heads/gh-pages", "refs/heads/gh-pagez") }),
            await deliver({ event: "push", payload: push(), secret: current, tamper: (body) => `${body} ` }),
        ];
        for (const res of refused) expect(res.status, JSON.stringify(res)).toBe(403);
        // A good delivery afterwards runs; by then none of the refused ones has.
        const ok = await deliver({ event: "push", payload: push(), secret: current });
        expect(ok.status).toBe(202);
        await waitForCall(ok.delivery);
        await sleep(200);
        expect(calls().length).toBe(before + 1);
        const refusedIds = new Set(refused.map((r) => r.delivery));
        expect(calls().filter((c) => refusedIds.has(c.args[4]))).toEqual([]);
    });

    it("answers other methods and unknown hooks without a 2xx and without running anything", async () => {
        const before = calls().length;
        for (const method of ["GET", "PUT", "DELETE"]) {
            const res = await request(port, method, `/hooks/${hookId}`);
            expect(res.status, method).toBeGreaterThanOrEqual(300);
        }
        const body = JSON.stringify(push());
        const elsewhere = await request(port, "POST", "/hooks/other", { headers: { "content-type": "application/json", "x-hub-signature-256": await sign(current, body) }, body });
        expect(elsewhere.status).toBe(404);
        await sleep(200);
        expect(calls().length).toBe(before);
    });

    it("answers at once while the command runs in the background", async () => {
        fs.writeFileSync(slowFlag, "");
        try {
            const res = await deliver({ event: "push", payload: push(), secret: current });
            expect(res.status).toBe(202);
            // The stub takes 3 s: the answer must not wait for it (GitHub gives up after 10 s).
            expect(res.ms).toBeLessThan(1_000);
            await waitForCall(res.delivery);
            expect(fs.existsSync(slowDone)).toBe(false);
            // Let the stub finish, so no process of the test outlives it.
            const deadline = Date.now() + 6_000;
            while (!fs.existsSync(slowDone) && Date.now() < deadline) await sleep(50);
            expect(fs.existsSync(slowDone)).toBe(true);
        } finally {
            fs.rmSync(slowFlag, { force: true });
        }
    });

    it("reloads a rewritten hooks file on SIGUSR1: the new secret works in the same process", async () => {
        const pid = webhook!.pid;
        const before = await deliver({ event: "push", payload: push(), secret: rotated });
        expect(before.status).toBe(403);

        writeHooks([rotated]);
        process.kill(pid, "SIGUSR1");
        let accepted: Awaited<ReturnType<typeof deliver>> | undefined;
        const deadline = Date.now() + 5_000;
        while (Date.now() < deadline) {
            const res = await deliver({ event: "push", payload: push(), secret: rotated });
            if (res.status === 202) {
                accepted = res;
                break;
            }
            expect(res.status).toBe(403);
            await sleep(50);
        }
        expect(accepted, `not reloaded:\n${webhook?.output}`).toBeDefined();
        await waitForCall(accepted!.delivery);
        expect(webhook!.running).toBe(true);
        expect(webhook!.pid).toBe(pid);
        // The retired secrets no longer match.
        expect((await deliver({ event: "push", payload: push(), secret: current })).status).toBe(403);
        expect((await deliver({ event: "push", payload: push(), secret: previous })).status).toBe(403);
    });

    it("never writes a secret to its log", () => {
        for (const secret of [current, previous, rotated]) expect(webhook?.output).not.toContain(secret);
    });
});
