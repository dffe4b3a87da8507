import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractHooksSubset } from "../../../sandbox/github/extract-openapi";
import subset from "../../../sandbox/github/hooks-openapi.json";
import { operationIds } from "../../../sandbox/github/openapi";
import { startGitHubStandin, type GitHubStandin } from "../../../sandbox/github/server";

interface Received {
    headers: http.IncomingHttpHeaders;
    body: string;
}

describe("GitHub stand-in", () => {
    const token = "ghp_standinTestToken";
    let standin: GitHubStandin;
    let receiver: http.Server;
    let receiverUrl: string;
    const received: Received[] = [];

    const api = async (method: string, path: string, body?: unknown, auth = `Bearer ${token}`) => {
        const response = await fetch(`${standin.apiUrl}${path}`, { method, headers: { authorization: auth, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await response.text();
        return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown> & Array<Record<string, unknown>>) : undefined };
    };

    beforeAll(async () => {
        receiver = http.createServer((req, res) => {
            const chunks: Buffer[] = [];
            req.on("data", (c: Buffer) => chunks.push(c));
            req.on("end", () => {
                received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
                res.writeHead(202).end("accepted");
            });
        });
        await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
        receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhook`;
        standin = await startGitHubStandin({ token, repositories: ["Do-It-ECM/do-it"] });
    });

    afterAll(async () => {
        await standin.close();
        await new Promise((resolve) => receiver.close(resolve));
    });

    it("carries the committed subset of GitHub's OpenAPI description, in sync with @octokit/openapi", () => {
        expect(JSON.parse(JSON.stringify(extractHooksSubset()))).toEqual(subset);
        expect(operationIds.sort()).toEqual(
            [
                "repos/create-webhook",
                "repos/delete-webhook",
                "repos/get-webhook",
                "repos/get-webhook-config-for-repo",
                "repos/get-webhook-delivery",
                "repos/list-webhook-deliveries",
                "repos/list-webhooks",
                "repos/ping-webhook",
                "repos/redeliver-webhook-delivery",
                "repos/test-push-webhook",
                "repos/update-webhook",
                "repos/update-webhook-config-for-repo",
            ].sort(),
        );
    });

    it("refuses missing or wrong credentials with 401 and unknown repositories with 404", async () => {
        expect((await api("GET", "/repos/do-it-ecm/do-it/hooks", undefined, "Bearer nope")).status).toBe(401);
        expect((await api("GET", "/repos/do-it-ecm/do-it/hooks", undefined, "")).json?.message).toBe("Bad credentials");
        expect((await api("GET", "/repos/someone/else/hooks")).status).toBe(404);
    });

    it("rejects bodies that do not follow the description with 422", async () => {
        expect((await api("POST", "/repos/do-it-ecm/do-it/hooks", { config: { url: 42 } })).status).toBe(422);
        expect((await api("POST", "/repos/do-it-ecm/do-it/hooks", { events: ["push"] })).status).toBe(422);
        const bad = await fetch(`${standin.apiUrl}/repos/do-it-ecm/do-it/hooks`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: "{not json" });
        expect(bad.status).toBe(400);
    });

    it("runs a hook's whole life like GitHub: create, ping, mask, patch, push, deliveries, delete", async () => {
        const secret = "s3cret-for-the-hook";
        const created = await api("POST", "/repos/do-it-ecm/do-it/hooks", { name: "web", active: true, events: ["push"], config: { url: receiverUrl, content_type: "json", secret, insecure_ssl: "0" } });
        expect(created.status).toBe(201);
        const id = created.json?.id as number;
        expect((created.json?.config as Record<string, string>).secret).toBe("********");

        await expect.poll(() => received.length).toBe(1);
        const ping = received[0];
        expect(ping.headers["x-github-event"]).toBe("ping");
        // An ESM-only package: imported at run time, typed here (CJS module resolution can't see its exports).
        const webhooksMethods = "@octokit/webhooks-methods";
        const { verify } = (await import(webhooksMethods)) as { verify(secret: string, payload: string, signature: string): Promise<boolean> };
        expect(await verify(secret, ping.body, String(ping.headers["x-hub-signature-256"]))).toBe(true);
        expect(JSON.parse(ping.body).hook_id).toBe(id);

        expect((await api("GET", "/repos/do-it-ecm/do-it/hooks")).json).toHaveLength(1);
        expect(((await api("GET", `/repos/do-it-ecm/do-it/hooks/${id}`)).json?.config as Record<string, string>).secret).toBe("********");

        // A PATCH of the hook without the secret drops it, as GitHub does.
        const patched = await api("PATCH", `/repos/do-it-ecm/do-it/hooks/${id}`, { config: { url: receiverUrl, content_type: "json" } });
        expect(patched.status).toBe(200);
        expect((patched.json?.config as Record<string, string>).secret).toBeUndefined();
        await api("PATCH", `/repos/do-it-ecm/do-it/hooks/${id}`, { config: { url: receiverUrl, content_type: "json", secret } });

        const [push] = await standin.sendPush("do-it-ecm/do-it", { ref: "refs/heads/gh-pages", after: "a".repeat(40) });
        expect(push.status_code).toBe(202);
        const pushed = received[received.length - 1];
        expect(pushed.headers["x-github-event"]).toBe("push");
        expect(await verify(secret, pushed.body, String(pushed.headers["x-hub-signature-256"]))).toBe(true);
        const payload = JSON.parse(pushed.body);
        expect(payload).toMatchObject({ ref: "refs/heads/gh-pages", after: "a".repeat(40), repository: { full_name: "Do-It-ECM/do-it" } });

        const list = await api("GET", `/repos/do-it-ecm/do-it/hooks/${id}/deliveries`);
        expect(list.json?.map((d) => d.event)).toEqual(["push", "ping"]);
        const one = await api("GET", `/repos/do-it-ecm/do-it/hooks/${id}/deliveries/${list.json?.[0].id}`);
        expect(one.json?.status_code).toBe(202);

        expect((await api("GET", `/repos/do-it-ecm/do-it/hooks/${id}/config`)).json?.url).toBe(receiverUrl);
        expect((await api("DELETE", `/repos/do-it-ecm/do-it/hooks/${id}`)).status).toBe(204);
        expect((await api("GET", `/repos/do-it-ecm/do-it/hooks/${id}`)).status).toBe(404);
        expect(standin.validationErrors()).toEqual([]);
    });

    it("records a delivery to an unreachable URL with status code 0", async () => {
        const created = await api("POST", "/repos/do-it-ecm/do-it/hooks", { config: { url: "http://127.0.0.1:9/nothing", content_type: "json", secret: "x" }, events: ["push"] });
        const [delivery] = await standin.sendPush("do-it-ecm/do-it", { ref: "refs/heads/gh-pages", after: "b".repeat(40) });
        expect(delivery.status_code).toBe(0);
        await api("DELETE", `/repos/do-it-ecm/do-it/hooks/${created.json?.id}`);
        expect(standin.validationErrors()).toEqual([]);
    });
});
