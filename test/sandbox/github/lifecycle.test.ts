import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandin, type GitHubStandin } from "../../../sandbox/github/server";
import { webhooksMethods } from "../../../sandbox/github/webhooksMethods";
import { apiClient, sha, startReceiver, type Receiver } from "./helpers";

describe("a hook's whole life through the stand-in's API, as with GitHub", () => {
    const token = "ghp_standinLifecycleToken0000000000000000";
    const secret = "s3cret-for-the-hook";
    const hooks = "/repos/do-it-ecm/do-it/hooks";
    const logLines: string[] = [];
    let standin: GitHubStandin;
    let receiver: Receiver;
    let api: ReturnType<typeof apiClient>;
    let id: number;

    beforeAll(async () => {
        receiver = await startReceiver();
        standin = await startGitHubStandin({ token, repositories: ["Do-It-ECM/do-it"], log: (line) => logLines.push(line) });
        api = apiClient(standin.apiUrl, token);
    });

    afterAll(async () => {
        await standin?.close();
        await receiver?.close();
    });

    it("creates a hook: 201, the hook as GitHub shows it, secret masked, Location", async () => {
        const created = await api("POST", hooks, { name: "web", active: true, events: ["push"], config: { url: receiver.url, content_type: "json", secret, insecure_ssl: "0" } });
        expect(created.status).toBe(201);
        id = created.json.id;
        expect(created.json).toMatchObject({
            type: "Repository",
            name: "web",
            active: true,
            events: ["push"],
            config: { content_type: "json", insecure_ssl: "0", secret: "********", url: receiver.url },
            url: `${standin.apiUrl}/repos/Do-It-ECM/do-it/hooks/${id}`,
            ping_url: `${standin.apiUrl}/repos/Do-It-ECM/do-it/hooks/${id}/pings`,
            last_response: { code: null, status: "unused", message: null },
        });
        expect(created.headers.get("location")).toBe(created.json.url);
        expect(standin.hooks("Do-It-ECM/do-it")[0].config.secret).toBe(secret);
    });

    it("pings the new hook: GitHub's headers, a valid signature, zen, hook and repository", async () => {
        await expect.poll(() => receiver.received.length, { timeout: 5000 }).toBe(1);
        const ping = receiver.received[0];
        expect(ping.method).toBe("POST");
        expect(ping.headers).toMatchObject({
            "x-github-event": "ping",
            "x-github-hook-id": String(id),
            "x-github-hook-installation-target-type": "repository",
            "content-type": "application/json",
            accept: "*/*",
        });
        expect(ping.headers["user-agent"]).toMatch(/^GitHub-Hookshot\/[0-9a-f]+$/);
        expect(ping.headers["x-github-delivery"]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        const { verify } = await webhooksMethods();
        expect(await verify(secret, ping.body.toString(), String(ping.headers["x-hub-signature-256"]))).toBe(true);
        expect(await verify("another secret", ping.body.toString(), String(ping.headers["x-hub-signature-256"]))).toBe(false);
        expect(ping.headers["x-hub-signature"]).toMatch(/^sha1=[0-9a-f]{40}$/);
        const payload = JSON.parse(ping.body.toString());
        expect(payload).toMatchObject({ hook_id: id, hook: { id, config: { secret: "********" } }, repository: { full_name: "Do-It-ECM/do-it" } });
        expect(payload.zen).toEqual(expect.any(String));
        expect(payload).not.toHaveProperty("ref");
        expect(ping.headers["x-github-hook-installation-target-id"]).toBe(String(payload.repository.id));
    });

    it("gets the hook with the secret masked, and records the ping as its last response", async () => {
        const one = await api("GET", `${hooks}/${id}`);
        expect(one.json.config).toEqual({ content_type: "json", insecure_ssl: "0", secret: "********", url: receiver.url });
        expect(one.json.last_response).toEqual({ code: 202, status: "active", message: "OK" });
        expect(one.text).not.toContain(secret);
    });

    it("a PATCH of the hook's config drops the secret unless it is sent again", async () => {
        const patched = await api("PATCH", `${hooks}/${id}`, { config: { url: receiver.url, content_type: "json" } });
        expect(patched.status).toBe(200);
        expect(patched.json.config).toEqual({ content_type: "json", insecure_ssl: "0", url: receiver.url });
        expect(standin.hooks("Do-It-ECM/do-it")[0].config.secret).toBeUndefined();

        const resent = await api("PATCH", `${hooks}/${id}`, { config: { url: receiver.url, content_type: "json", secret }, add_events: ["release"], active: true });
        expect(resent.json).toMatchObject({ events: ["push", "release"], config: { secret: "********" } });
        expect((await api("PATCH", `${hooks}/${id}`, { remove_events: ["release"] })).json.events).toEqual(["push"]);
        expect(standin.hooks("Do-It-ECM/do-it")[0].config.secret).toBe(secret);
    });

    it("delivers a push, signed, shaped like GitHub's, and records it", async () => {
        const before = receiver.received.length;
        const [delivery] = await standin.sendPush("do-it-ecm/do-it", { ref: "refs/heads/gh-pages", after: sha("a"), headCommitMessage: "Publish" });
        expect(delivery).toMatchObject({ event: "push", status_code: 202, status: "OK", hook_id: id, redelivery: false, action: null, response: { payload: "accepted" } });
        expect(delivery.duration).toBeLessThan(2);
        const pushed = receiver.received[before];
        expect(pushed.headers["x-github-event"]).toBe("push");
        expect(pushed.headers["x-github-delivery"]).toBe(delivery.guid);
        const { verify } = await webhooksMethods();
        expect(await verify(secret, pushed.body.toString(), String(pushed.headers["x-hub-signature-256"]))).toBe(true);
        const payload = JSON.parse(pushed.body.toString());
        expect(payload).toMatchObject({ ref: "refs/heads/gh-pages", before: sha("0"), after: sha("a"), created: true, repository: { full_name: "Do-It-ECM/do-it", name: "do-it", owner: { login: "Do-It-ECM" } }, head_commit: { id: sha("a"), message: "Publish" }, pusher: { name: "Do-It-ECM" }, sender: { login: "Do-It-ECM" } });

        // The next push to the same ref starts where the last one ended.
        await standin.sendPush("Do-It-ECM/do-it", { ref: "refs/heads/gh-pages", after: sha("b") });
        expect(JSON.parse(receiver.received[receiver.received.length - 1].body.toString())).toMatchObject({ before: sha("a"), after: sha("b"), created: false });
    });

    it("keeps every delivery in its log, oldest first, with the request sent and the answer received", () => {
        const log = standin.deliveries("Do-It-ECM/do-it");
        expect(log.map((d) => d.event)).toEqual(["ping", "push", "push"]);
        expect(log[1]).toMatchObject({ event: "push", status_code: 202, url: receiver.url, request: { payload: { ref: "refs/heads/gh-pages", after: sha("a") } }, response: { payload: "accepted" } });
        expect(log[1].request.headers["X-GitHub-Event"]).toBe("push");
    });

    it("deletes the hook: 204, then 404, and nothing is pushed to it any more", async () => {
        expect((await api("DELETE", `${hooks}/${id}`)).status).toBe(204);
        const gone = await api("GET", `${hooks}/${id}`);
        expect(gone.status).toBe(404);
        expect(gone.json).toEqual({ message: "Not Found", documentation_url: "https://docs.github.com/rest/repos/webhooks#get-a-repository-webhook", status: "404" });
        expect((await api("DELETE", `${hooks}/${id}`)).status).toBe(404);
        expect(await standin.sendPush("Do-It-ECM/do-it", { ref: "refs/heads/gh-pages", after: sha("c") })).toEqual([]);
        expect(standin.hooks("Do-It-ECM/do-it")).toEqual([]);
    });

    it("answered everything as GitHub's description says, and logged no secret", () => {
        expect(standin.validationErrors()).toEqual([]);
        expect(logLines.some((l) => l.includes("POST /repos/do-it-ecm/do-it/hooks -> 201"))).toBe(true);
        expect(logLines.join("\n")).not.toContain(secret);
        expect(logLines.join("\n")).not.toContain(token);
    });
});
