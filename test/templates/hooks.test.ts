import { createHmac, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import examples from "@octokit/webhooks-examples";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hookId, hooksFile } from "../../lib/hostFiles";
import { assocSites, validConfig, validSitesConfig } from "../lib/fixtures";
import { Daemon, freePort, isAlive, request, sleep, createTempDir, tempDir, waitForPort } from "./support";

/**
 * The rendered hooks file: its rule shape, then the real webhook binary (adnanh/webhook) answering
 * signed deliveries built from GitHub's example payloads, with the command replaced by a stub that
 * records its arguments: for the one-site form, then for two sites with a secret each.
 */

// An ESM-only package: imported at run time, typed here (CJS module resolution can't see its exports).
type Sign = (secret: string, payload: string) => Promise<string>;
let sign: Sign;

const current = "current-secret-4f9c2a7e1b";
const previous = "previous-secret-8d3e6b0a5c";
const rotated = "rotated-secret-1a2b3c4d5e";

/** GitHub's example payload of an event (@octokit/webhooks-examples), for the site's repository. */
function examplePayload(event: "push" | "ping", changes: Record<string, unknown>, fullName = "do-it-ecm/do-it"): Record<string, unknown> {
    const group = (examples as unknown as Array<{ name: string; examples: Array<Record<string, unknown>> }>).find((g) => g.name === event);
    if (!group) throw new Error(`no ${event} example in @octokit/webhooks-examples`);
    const payload = structuredClone(group.examples[0]);
    const repository = { ...(payload.repository as Record<string, unknown>), name: fullName.split("/")[1], full_name: fullName };
    return { ...payload, repository, ...changes };
}
const pushPayload = (ref: string, fullName?: string) => examplePayload("push", { ref, before: "a".repeat(40), after: "b".repeat(40) }, fullName);
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
const [site] = settings.sites;
/** The one-site form's hook and the parameters its command is run with. */
const id = hookId(site);
const conf = site.layout.syncConfig;
const one = (secrets: string[]) => ({ [site.name]: secrets });

describe("hooks.json: rendered rule", () => {
    it("is the same file on alpine and debian", () => {
        expect(hooksFile(validConfig({}, "debian").settings, one([current, previous])).content).toBe(hooksFile(settings, one([current, previous])).content);
    });

    it("accepts either secret while rotating: an `or` of two HMAC-SHA256 matches with soft failures", () => {
        const hooks = parseHooks(hooksFile(settings, one([current, previous])).content);
        expect(hooks).toHaveLength(1);
        const [hook] = hooks;
        // The hook is named after the site: the one-site form's is "selfpages".
        expect(id).toBe("selfpages");
        expect(hook.id).toBe(id);
        expect(hook["execute-command"]).toBe(settings.layout.syncScript);
        expect(hook["command-working-directory"]).toBe(site.layout.stateDir);
        expect(hook["command-working-directory"]).toBe("/var/lib/selfpages/sites/selfpages");
        expect(hook["http-methods"]).toEqual(["POST"]);
        expect(hook["success-http-response-code"]).toBe(202);
        expect(hook["trigger-rule-mismatch-http-response-code"]).toBe(403);
        expect(hook["trigger-signature-soft-failures"]).toBe(true);
        expect(hook["pass-arguments-to-command"]).toEqual([
            // The site's parameters: the one sync program serves every site.
            { source: "string", name: "--conf" },
            { source: "string", name: "/etc/selfpages/sites/selfpages/sync.conf" },
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
            const [hook] = parseHooks(hooksFile(settings, one(secrets)).content);
            expect(hook["trigger-rule"].or).toHaveLength(1);
            expect(hook["trigger-rule"].or[0].match.secret).toBe(current);
        }
    });

    it("escapes secrets as JSON strings", () => {
        const odd = 'a"b\\c\nd/é';
        const [hook] = parseHooks(hooksFile(settings, one([odd])).content);
        expect(hook["trigger-rule"].or[0].match.secret).toBe(odd);
    });
});

interface Call {
    cwd: string;
    args: string[];
}
/** Where the delivery id is among the command's arguments (after --conf FILE webhook EVENT REF REPOSITORY). */
const deliveryArg = 6;

interface Delivery {
    event: string;
    payload: Record<string, unknown>;
    secret?: string;
    headers?: Record<string, string>;
    tamper?: (body: string) => string;
    /** The hook delivered to: the one-site form's unless given. */
    hook?: string;
}

/**
 * The real webhook binary with a rendered hooks file. The layout's sync script path is fixed
 * (/usr/local/lib/selfpages/sync) and so are the state directories: the harness rewrites those two
 * fields of each rendered rule, and only those (each hook's working directory becomes work/<hook id>).
 */
class Receiver {
    readonly hooksPath: string;
    readonly workDir: string;
    readonly stub: string;
    readonly callsFile: string;
    readonly slowFlag: string;
    readonly slowDone: string;
    port = 0;
    webhook: Daemon | undefined;

    constructor(readonly dir: string) {
        this.hooksPath = path.join(dir, "hooks.json");
        this.workDir = path.join(dir, "work");
        this.stub = path.join(dir, "stub-sync");
        this.callsFile = path.join(dir, "calls");
        this.slowFlag = path.join(dir, "slow");
        this.slowDone = path.join(dir, "slow-done");
    }

    writeHooks(content: string): void {
        const hooks = parseHooks(content);
        for (const hook of hooks) {
            hook["execute-command"] = this.stub;
            hook["command-working-directory"] = path.join(this.workDir, hook.id);
            fs.mkdirSync(hook["command-working-directory"], { recursive: true });
        }
        fs.writeFileSync(this.hooksPath, JSON.stringify(hooks, null, 2), { mode: 0o600 });
    }

    async start(hooksContent: string): Promise<void> {
        createTempDir(this.dir);
        fs.mkdirSync(this.workDir);
        // Records its working directory and arguments (unit-separated, so an empty one shows), in
        // one append; sleeps when asked to, to show the receiver does not wait for it.
        fs.writeFileSync(
            this.stub,
            [
                "#!/bin/sh",
                `line="$(pwd)$(printf '\\037')"`,
                `for arg in "$@"; do line="$line$arg$(printf '\\037')"; done`,
                `printf '%s\\n' "$line" >>${JSON.stringify(this.callsFile)}`,
                `if [ -e ${JSON.stringify(this.slowFlag)} ]; then sleep 3; echo done >>${JSON.stringify(this.slowDone)}; fi`,
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
        this.writeHooks(hooksContent);
        this.port = await freePort();
        // The flags of the OpenRC service (templates/receiver.initd.hbs), without -verbose.
        this.webhook = new Daemon("webhook", ["-hooks", this.hooksPath, "-ip", "127.0.0.1", "-port", String(this.port), "-urlprefix", "hooks", "-nopanic"], { cwd: this.dir });
        await waitForPort(this.port, this.webhook.child, () => this.webhook?.output ?? "");
    }

    async stop(): Promise<void> {
        const pid = this.webhook?.child.pid;
        await this.webhook?.stop("SIGTERM");
        if (pid) expect(isAlive(pid)).toBe(false);
        fs.rmSync(this.dir, { recursive: true, force: true });
    }

    calls(): Call[] {
        if (!fs.existsSync(this.callsFile)) return [];
        return fs
            .readFileSync(this.callsFile, "utf8")
            .split("\n")
            .filter((line) => line !== "")
            .map((line) => {
                const [cwd, ...args] = line.split("\x1f").slice(0, -1);
                return { cwd, args };
            });
    }

    async waitForCall(delivery: string, timeoutMs = 5_000): Promise<Call> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const call = this.calls().find((c) => c.args[deliveryArg] === delivery);
            if (call) return call;
            if (Date.now() > deadline) throw new Error(`the command never ran for delivery ${delivery}; calls: ${JSON.stringify(this.calls())}\n${this.webhook?.output}`);
            await sleep(25);
        }
    }

    async deliver(d: Delivery): Promise<{ status: number; body: string; delivery: string; ms: number }> {
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
        const res = await request(this.port, "POST", `/hooks/${d.hook ?? id}`, { headers, body: d.tamper ? d.tamper(body) : body });
        return { status: res.status, body: res.body.toString(), delivery, ms: Date.now() - started };
    }
}

beforeAll(async () => {
    sign = ((await import("@octokit/webhooks-methods" as string)) as { sign: Sign }).sign;
});

describe("hooks.json: the real webhook receiver", () => {
    const receiver = new Receiver(tempDir("hooks"));
    const { slowFlag, slowDone } = receiver;
    const calls = () => receiver.calls();
    const waitForCall = (delivery: string) => receiver.waitForCall(delivery);
    const deliver = (d: Delivery) => receiver.deliver(d);
    const writeHooks = (secrets: string[]) => receiver.writeHooks(hooksFile(settings, one(secrets)).content);
    const push = (ref = "refs/heads/gh-pages") => pushPayload(ref);
    /** The arguments the command gets for a delivery to the one site. */
    const argsOf = (...rest: string[]) => ["--conf", conf, "webhook", ...rest];

    beforeAll(() => receiver.start(hooksFile(settings, one([current, previous])).content));
    afterAll(() => receiver.stop());

    it("answers a push signed with the current secret with 202 and runs the command once with its arguments", async () => {
        const res = await deliver({ event: "push", payload: push(), secret: current });
        expect(res.status).toBe(202);
        expect(res.body).toBe("accepted\n");
        const call = await waitForCall(res.delivery);
        expect(call.args).toEqual(argsOf("push", "refs/heads/gh-pages", "do-it-ecm/do-it", res.delivery, "b".repeat(40)));
        expect(fs.realpathSync(call.cwd)).toBe(fs.realpathSync(path.join(receiver.workDir, id)));
        await sleep(200);
        expect(calls().filter((c) => c.args[deliveryArg] === res.delivery)).toHaveLength(1);
    });

    it("accepts a push signed with the previous secret (rotation)", async () => {
        const res = await deliver({ event: "push", payload: push("refs/heads/main"), secret: previous });
        expect(res.status).toBe(202);
        expect((await waitForCall(res.delivery)).args).toEqual(argsOf("push", "refs/heads/main", "do-it-ecm/do-it", res.delivery, "b".repeat(40)));
    });

    it("accepts a ping (no ref, no after) with 202 and passes them empty", async () => {
        const payload = pingPayload();
        expect(payload).not.toHaveProperty("ref");
        const res = await deliver({ event: "ping", payload, secret: current });
        expect(res.status).toBe(202);
        expect((await waitForCall(res.delivery)).args).toEqual(argsOf("ping", "", "do-it-ecm/do-it", res.delivery, ""));
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
        expect(calls().filter((c) => refusedIds.has(c.args[deliveryArg]))).toEqual([]);
    });

    it("answers other methods and unknown hooks without a 2xx and without running anything", async () => {
        const before = calls().length;
        for (const method of ["GET", "PUT", "DELETE"]) {
            const res = await request(receiver.port, method, `/hooks/${id}`);
            expect(res.status, method).toBeGreaterThanOrEqual(300);
        }
        const body = JSON.stringify(push());
        const elsewhere = await request(receiver.port, "POST", "/hooks/other", { headers: { "content-type": "application/json", "x-hub-signature-256": await sign(current, body) }, body });
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
        const pid = receiver.webhook!.pid;
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
        expect(accepted, `not reloaded:\n${receiver.webhook?.output}`).toBeDefined();
        await waitForCall(accepted!.delivery);
        expect(receiver.webhook!.running).toBe(true);
        expect(receiver.webhook!.pid).toBe(pid);
        // The retired secrets no longer match.
        expect((await deliver({ event: "push", payload: push(), secret: current })).status).toBe(403);
        expect((await deliver({ event: "push", payload: push(), secret: previous })).status).toBe(403);
    });

    it("never writes a secret to its log", () => {
        for (const secret of [current, previous, rotated]) expect(receiver.webhook?.output).not.toContain(secret);
    });
});

describe("hooks.json: two sites, one receiver", () => {
    const two = validSitesConfig(assocSites.slice(0, 2)).settings;
    const [main, docs] = two.sites;
    const mainSecret = "main-secret-0f1e2d3c4b";
    const mainPrevious = "main-previous-5a6b7c8d9e";
    const docsSecret = "docs-secret-a9b8c7d6e5";
    // The main site in the middle of a rotation, the docs site not: each hook its own secrets.
    const rendered = hooksFile(two, { main: [mainSecret, mainPrevious], docs: [docsSecret] }).content;
    const receiver = new Receiver(tempDir("hooks-sites"));

    beforeAll(() => receiver.start(rendered));
    afterAll(() => receiver.stop());

    it("renders a hook per site, named after it, each with its own secrets, state directory and sync.conf", () => {
        const hooks = parseHooks(rendered);
        expect(hooks.map((h) => h.id)).toEqual(["main", "docs"]);
        expect(hooks.map((h) => h["command-working-directory"])).toEqual([main.layout.stateDir, docs.layout.stateDir]);
        expect(hooks.map((h) => h["pass-arguments-to-command"].slice(0, 3))).toEqual([
            [{ source: "string", name: "--conf" }, { source: "string", name: "/etc/selfpages/sites/main/sync.conf" }, { source: "string", name: "webhook" }],
            [{ source: "string", name: "--conf" }, { source: "string", name: "/etc/selfpages/sites/docs/sync.conf" }, { source: "string", name: "webhook" }],
        ]);
        expect(hooks.map((h) => h["trigger-rule"].or.map((m) => m.match.secret))).toEqual([[mainSecret, mainPrevious], [docsSecret]]);
    });

    it("runs each site's hook with its own sync.conf, in its own directory", async () => {
        for (const [site, secret, repository] of [
            [main, mainSecret, "assoc/site"],
            [main, mainPrevious, "assoc/site"],
            [docs, docsSecret, "assoc/docs"],
        ] as const) {
            const res = await receiver.deliver({ hook: hookId(site), event: "push", payload: pushPayload("refs/heads/gh-pages", repository), secret });
            expect(res.status, `${site.name} signed with ${secret}`).toBe(202);
            const call = await receiver.waitForCall(res.delivery);
            expect(call.args).toEqual(["--conf", site.layout.syncConfig, "webhook", "push", "refs/heads/gh-pages", repository, res.delivery, "b".repeat(40)]);
            expect(fs.realpathSync(call.cwd)).toBe(fs.realpathSync(path.join(receiver.workDir, site.name)));
        }
    });

    it("accepts on each hook only that site's secrets: another site's is refused with 403, running nothing", async () => {
        const before = receiver.calls().length;
        const refused = [
            await receiver.deliver({ hook: "main", event: "push", payload: pushPayload("refs/heads/gh-pages", "assoc/site"), secret: docsSecret }),
            await receiver.deliver({ hook: "docs", event: "push", payload: pushPayload("refs/heads/gh-pages", "assoc/docs"), secret: mainSecret }),
            await receiver.deliver({ hook: "docs", event: "push", payload: pushPayload("refs/heads/gh-pages", "assoc/docs"), secret: mainPrevious }),
            // The one-site form's hook does not exist beside named sites.
            await receiver.deliver({ hook: "selfpages", event: "push", payload: pushPayload("refs/heads/gh-pages", "assoc/site"), secret: mainSecret }),
        ];
        expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 404]);
        // A good delivery afterwards runs; by then none of the refused ones has.
        const ok = await receiver.deliver({ hook: "docs", event: "push", payload: pushPayload("refs/heads/gh-pages", "assoc/docs"), secret: docsSecret });
        expect(ok.status).toBe(202);
        await receiver.waitForCall(ok.delivery);
        await sleep(200);
        expect(receiver.calls().length).toBe(before + 1);
        const refusedIds = new Set(refused.map((r) => r.delivery));
        expect(receiver.calls().filter((c) => refusedIds.has(c.args[deliveryArg]))).toEqual([]);
    });

    it("rotates one site's secret without touching the other's (reloaded on SIGUSR1)", async () => {
        const rotatedMain = "main-rotated-1f2e3d4c5b";
        receiver.writeHooks(hooksFile(two, { main: [rotatedMain], docs: [docsSecret] }).content);
        process.kill(receiver.webhook!.pid, "SIGUSR1");
        const deadline = Date.now() + 5_000;
        let rotated = await receiver.deliver({ hook: "main", event: "push", payload: pushPayload("refs/heads/gh-pages", "assoc/site"), secret: rotatedMain });
        while (rotated.status !== 202 && Date.now() < deadline) {
            expect(rotated.status).toBe(403);
            await sleep(50);
            rotated = await receiver.deliver({ hook: "main", event: "push", payload: pushPayload("refs/heads/gh-pages", "assoc/site"), secret: rotatedMain });
        }
        expect(rotated.status, `not reloaded:\n${receiver.webhook?.output}`).toBe(202);
        expect((await receiver.deliver({ hook: "main", event: "push", payload: pushPayload("refs/heads/gh-pages", "assoc/site"), secret: mainSecret })).status).toBe(403);
        const docsStill = await receiver.deliver({ hook: "docs", event: "push", payload: pushPayload("refs/heads/gh-pages", "assoc/docs"), secret: docsSecret });
        expect(docsStill.status).toBe(202);
        // Each accepted delivery ran its site's command (and no stub outlives the test).
        expect((await receiver.waitForCall(rotated.delivery)).args.slice(0, 2)).toEqual(["--conf", main.layout.syncConfig]);
        expect((await receiver.waitForCall(docsStill.delivery)).args.slice(0, 2)).toEqual(["--conf", docs.layout.syncConfig]);
    });

    it("never writes a secret to its log", () => {
        for (const secret of [mainSecret, mainPrevious, docsSecret]) expect(receiver.webhook?.output).not.toContain(secret);
    });
});
