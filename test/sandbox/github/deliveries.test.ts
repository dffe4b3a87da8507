import * as crypto from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { hooksPerEvent } from "../../../sandbox/github/hookStore";
import { startGitHubStandin, type GitHubStandin } from "../../../sandbox/github/server";
import { webhooksMethods } from "../../../sandbox/github/webhooksMethods";
import { apiClient, sha, startReceiver, type Receiver } from "./helpers";

describe("deliveries, as GitHub makes them", () => {
    const token = "ghp_standinDeliveriesToken000000000000000";
    const repo = "Do-It-ECM/do-it";
    const hooks = `/repos/${repo}/hooks`;
    let standin: GitHubStandin;
    let receiver: Receiver;
    let api: ReturnType<typeof apiClient>;

    const createHook = async (body: Record<string, unknown>): Promise<number> => {
        const before = receiver.received.length;
        const created = await api("POST", hooks, body);
        expect(created.status).toBe(201);
        if (created.json.active) await expect.poll(() => standin.deliveries(repo).filter((d) => d.hook_id === created.json.id).length, { timeout: 5000 }).toBe(1);
        receiver.received.splice(before);
        return created.json.id;
    };

    beforeAll(async () => {
        receiver = await startReceiver();
        standin = await startGitHubStandin({ token, repositories: [repo], deliveryTimeoutMs: 500 });
        api = apiClient(standin.apiUrl, token);
    });

    beforeEach(async () => {
        receiver.reply(() => ({ status: 202, body: "accepted" }));
        for (const h of standin.hooks(repo)) await api("DELETE", `${hooks}/${h.id}`);
        receiver.received.splice(0);
    });

    afterAll(async () => {
        await standin?.close();
        await receiver?.close();
    });

    it("form content type: payload=<JSON> form-encoded, signatures over the exact bytes sent", async () => {
        await createHook({ config: { url: receiver.url, content_type: "form", secret: "form-secret" } });
        const [delivery] = await standin.sendPush(repo, { ref: "refs/heads/gh-pages", after: sha("d"), headCommitMessage: "spaces & symbols: *~'()!" });
        expect(delivery.status_code).toBe(202);
        const got = receiver.received[0];
        expect(got.headers["content-type"]).toBe("application/x-www-form-urlencoded");
        const body = got.body.toString();
        expect(body).toMatch(/^payload=%7B%22/);
        expect(body).not.toMatch(/[ *~'()!]/);
        const payload = JSON.parse(new URLSearchParams(body).get("payload") as string);
        expect(payload.head_commit.message).toBe("spaces & symbols: *~'()!");
        const { verify } = await webhooksMethods();
        expect(await verify("form-secret", body, String(got.headers["x-hub-signature-256"]))).toBe(true);
        expect(got.headers["x-hub-signature"]).toBe(`sha1=${crypto.createHmac("sha1", "form-secret").update(got.body).digest("hex")}`);
        // The log keeps the payload as JSON, as GitHub's does.
        expect(delivery.request.payload).toMatchObject({ ref: "refs/heads/gh-pages" });
    });

    it("no secret: no signature headers", async () => {
        await createHook({ config: { url: receiver.url, content_type: "json" } });
        await standin.sendPush(repo, { ref: "refs/heads/gh-pages", after: sha("e") });
        expect(receiver.received[0].headers).not.toHaveProperty("x-hub-signature-256");
        expect(receiver.received[0].headers).not.toHaveProperty("x-hub-signature");
    });

    it("pushes go to active hooks subscribed to push or *, with one GUID per event", async () => {
        const other = await startReceiver();
        try {
            await createHook({ config: { url: receiver.url, content_type: "json" }, events: ["push"] });
            await createHook({ config: { url: other.url, content_type: "json" }, events: ["*"] });
            await createHook({ config: { url: receiver.url, content_type: "json" }, events: ["release"] });
            await createHook({ config: { url: `${other.url}?inactive`, content_type: "json" }, events: ["push"], active: false });
            other.received.splice(0);
            const sent = await standin.sendPush(repo, { ref: "refs/heads/gh-pages", after: sha("f") });
            expect(sent).toHaveLength(2);
            expect(new Set(sent.map((d) => d.guid)).size).toBe(1);
            expect(new Set(sent.map((d) => d.id)).size).toBe(2);
            expect(receiver.received).toHaveLength(1);
            expect(other.received).toHaveLength(1);
        } finally {
            await other.close();
        }
    });

    it("a fleet's hooks: one push reaches each of a repository's 20 hooks, signed with its own secret, and logs each; a 21st is refused", async () => {
        // One hook per server, each at the server's address (here: a path of one receiver).
        const urls = Array.from({ length: hooksPerEvent }, (_, i) => `${receiver.url}/server-${i + 1}/main`);
        const ids: number[] = [];
        for (const [i, url] of urls.entries()) ids.push(await createHook({ config: { url, content_type: "json", secret: `secret-${i + 1}` }, events: ["push"] }));
        const over = await api("POST", hooks, { config: { url: `${receiver.url}/server-21/main`, content_type: "json" }, events: ["push"] });
        expect(over.status).toBe(422);
        expect(over.json.errors).toEqual([{ resource: "Hook", code: "custom", message: 'The "push" event cannot have more than 20 hooks' }]);
        // Another event is counted apart.
        await api("DELETE", `${hooks}/${await createHook({ config: { url: `${receiver.url}/server-21/main`, content_type: "json" }, events: ["release"] })}`);

        const sent = await standin.sendPush(repo, { ref: "refs/heads/gh-pages", after: sha("9") });
        expect(sent.map((d) => d.hook_id).sort()).toEqual([...ids].sort());
        expect(sent.map((d) => d.url).sort()).toEqual([...urls].sort());
        expect(sent.every((d) => d.status_code === 202)).toBe(true);
        expect(new Set(sent.map((d) => d.guid)).size).toBe(1);
        expect(receiver.received.map((r) => r.path).sort()).toEqual(urls.map((u) => new URL(u).pathname).sort());
        const { verify } = await webhooksMethods();
        for (const got of receiver.received) {
            const n = /server-(\d+)/.exec(got.path)?.[1];
            expect(await verify(`secret-${n}`, got.body.toString(), String(got.headers["x-hub-signature-256"])), got.path).toBe(true);
        }
        // Each in the log, and each hook's last response.
        const logged = standin.deliveries(repo).filter((d) => d.guid === sent[0].guid);
        expect(logged.map((d) => d.id).sort()).toEqual(sent.map((d) => d.id).sort());
        for (const id of ids) expect((await api("GET", `${hooks}/${id}`)).json.last_response).toEqual({ code: 202, status: "active", message: "OK" });
    });

    it("records failures: refused connections (0), non-2xx answers, timeouts; last_response follows", async () => {
        const id = await createHook({ config: { url: receiver.url, content_type: "json" } });
        receiver.reply(() => ({ status: 500, body: "x".repeat(5000) }));
        const [failed] = await standin.sendPush(repo, { ref: "refs/heads/gh-pages", after: sha("1") });
        expect(failed).toMatchObject({ status_code: 500, status: "Invalid HTTP Response: 500" });
        expect(failed.response.payload?.length).toBe(2048);
        expect((await api("GET", `${hooks}/${id}`)).json.last_response).toEqual({ code: 500, status: "misconfigured", message: "Invalid HTTP Response: 500" });

        receiver.reply(() => ({ status: 200, delayMs: 2000 }));
        const [slow] = await standin.sendPush(repo, { ref: "refs/heads/gh-pages", after: sha("2") });
        expect(slow).toMatchObject({ status_code: 0, status: "timed out" });
        expect(slow.duration).toBeGreaterThanOrEqual(0.4);

        await api("PATCH", `${hooks}/${id}`, { config: { url: "http://127.0.0.1:9/nothing", content_type: "json" } });
        const [refused] = await standin.sendPush(repo, { ref: "refs/heads/gh-pages", after: sha("3") });
        expect(refused.status_code).toBe(0);
        expect(refused.status).toMatch(/^failed to connect to host/);
        expect((await api("GET", `${hooks}/${id}`)).json.last_response).toMatchObject({ code: null, status: "misconfigured" });
        expect(refused.response).toEqual({ headers: {}, payload: null });
    });

    it("does not follow redirects", async () => {
        await createHook({ config: { url: receiver.url, content_type: "json" } });
        receiver.reply(() => ({ status: 301 }));
        const [moved] = await standin.sendPush(repo, { ref: "refs/heads/gh-pages", after: sha("4") });
        expect(moved).toMatchObject({ status_code: 301, status: "Invalid HTTP Response: 301" });
        expect(receiver.received).toHaveLength(1);
    });

    it("sendRaw sends hostile deliveries: wrong key, unsigned, other event, custom body and headers", async () => {
        const secret = "raw-secret";
        const id = await createHook({ config: { url: receiver.url, content_type: "json", secret } });
        const { verify } = await webhooksMethods();
        const body = JSON.stringify({ ref: "refs/heads/gh-pages", repository: { full_name: "evil/repo" } });

        const wrongKey = await standin.sendRaw(repo, id, { event: "push", body, signWith: "not-the-secret" });
        expect(wrongKey.status_code).toBe(202);
        expect(await verify(secret, body, String(receiver.received[0].headers["x-hub-signature-256"]))).toBe(false);
        expect(await verify("not-the-secret", body, String(receiver.received[0].headers["x-hub-signature-256"]))).toBe(true);

        await standin.sendRaw(repo, id, { event: "push", body, signWith: null });
        expect(receiver.received[1].headers).not.toHaveProperty("x-hub-signature-256");

        await standin.sendRaw(repo, id, { event: "issues", body: Buffer.from(body) });
        expect(receiver.received[2].headers["x-github-event"]).toBe("issues");
        expect(await verify(secret, body, String(receiver.received[2].headers["x-hub-signature-256"]))).toBe(true);
        expect(receiver.received[2].body.toString()).toBe(body);

        const custom = await standin.sendRaw(repo, id, { event: "push", body: "not json at all", headers: { "x-github-event": "ping", "X-Extra": "1" } });
        expect(receiver.received[3].headers["x-github-event"]).toBe("ping");
        expect(receiver.received[3].headers["x-extra"]).toBe("1");
        expect(receiver.received[3].body.toString()).toBe("not json at all");
        expect(custom.request.payload).toBeNull();
        // Even the hostile ones are in the delivery log.
        expect(standin.deliveries(repo).map((d) => d.id)).toContain(custom.id);
        expect(() => standin.sendRaw(repo, 12345, { event: "push", body })).toThrow(/no hook 12345/);
    });

    it("the test API: hooks() copies, deleteHookBehindPulumisBack, deliveries(repo)", async () => {
        const id = await createHook({ config: { url: receiver.url, content_type: "json", secret: "s" } });
        standin.hooks(repo)[0].config.url = "http://changed.invalid/";
        expect(standin.hooks(repo)[0].config.url).toBe(receiver.url);
        expect(standin.deliveries(repo).length).toBeGreaterThan(0);
        expect(standin.deliveries().length).toBe(standin.deliveries(repo).length);
        expect(() => standin.deliveries("nobody/nothing")).toThrow(/serves no repository/);
        standin.deleteHookBehindPulumisBack(repo, id);
        expect(standin.hooks(repo)).toEqual([]);
        expect((await api("GET", `${hooks}/${id}`)).status).toBe(404);
        expect(() => standin.deleteHookBehindPulumisBack(repo, id)).toThrow();
    });

    it("close() aborts deliveries in flight and waits for them", async () => {
        const local = await startGitHubStandin({ token, repositories: [repo] });
        const client = apiClient(local.apiUrl, token);
        receiver.reply(() => ({ status: 200, delayMs: 5000 }));
        await client("POST", hooks, { config: { url: receiver.url, content_type: "json" } });
        const pending = local.sendPush(repo, { ref: "refs/heads/gh-pages", after: sha("5") });
        await expect.poll(() => receiver.received.length, { timeout: 5000 }).toBeGreaterThanOrEqual(1);
        const started = Date.now();
        await local.close();
        expect(Date.now() - started).toBeLessThan(2000);
        const [aborted] = await pending;
        expect(aborted).toMatchObject({ status_code: 0, status: "stand-in closed" });
        expect(local.validationErrors()).toEqual([]);
    });

    it("every response and payload fit GitHub's description", () => {
        expect(standin.validationErrors()).toEqual([]);
    });
});
