import { describe, expect, it } from "vitest";
import { matchOperation, operations, validateGenericError, validateWebhook, type Operation } from "../../../sandbox/github/openapi";
import { pingPayload, pushPayload } from "../../../sandbox/github/payloads";

const op = (id: string): Operation => {
    const found = operations.find((o) => o.operationId === id);
    if (!found) throw new Error(id);
    return found;
};

const repo = { id: 700_000_001, owner: "Do-It-ECM", name: "do-it", fullName: "Do-It-ECM/do-it" };

describe("validation against GitHub's OpenAPI description", () => {
    it("accepts the description's own response examples", () => {
        const checked: string[] = [];
        for (const operation of operations) {
            for (const status of [200, 201]) {
                const example = operation.example(status);
                if (example === undefined) continue;
                checked.push(operation.operationId);
                expect(operation.validateResponse(status, example), operation.operationId).toEqual([]);
            }
        }
        expect(checked.length).toBeGreaterThanOrEqual(7);
    });

    it("refuses responses that do not fit", () => {
        const getHook = op("repos/get-webhook");
        const example = getHook.example(200) as Record<string, unknown>;
        expect(getHook.validateResponse(200, { ...example, id: "12" })).toEqual(["repos/get-webhook 200: /id must be integer"]);
        expect(getHook.validateResponse(200, { ...example, last_response: undefined }).join()).toContain("last_response");
        expect(getHook.validateResponse(201, example)).toEqual(["repos/get-webhook 201: status not in GitHub's description of the operation"]);
        expect(op("repos/delete-webhook").validateResponse(204, { unexpected: true })).toHaveLength(1);
        // A 404 where the description lists none is still GitHub's basic-error.
        expect(op("repos/delete-an-environment").validateResponse(404, { message: "Not Found", documentation_url: "x" })).toEqual([]);
        expect(op("repos/create-webhook").validateResponse(422, { message: "Validation Failed" }).join()).toContain("documentation_url");
        expect(validateGenericError(401, { message: 42 })).toHaveLength(1);
    });

    it("checks request bodies, query and path parameters", () => {
        const create = op("repos/create-webhook");
        const none = { path: [], query: [], body: [] };
        expect(create.validateRequest({ owner: "o", repo: "r" }, new URLSearchParams(), { name: "web", config: { url: "https://example.com/hook", content_type: "json", insecure_ssl: 0 } })).toEqual(none);
        expect(create.validateRequest({ owner: "o", repo: "r" }, new URLSearchParams(), null)).toEqual(none);
        expect(create.validateRequest({ owner: "o", repo: "r" }, new URLSearchParams(), { config: { url: 42 } }).body).toEqual(["/config/url must be string"]);
        expect(create.validateRequest({ owner: "o", repo: "r" }, new URLSearchParams(), { colour: "red" }).body).toEqual(["(root) must NOT have additional properties (colour)"]);
        expect(op("repos/update-webhook").validateRequest({ owner: "o", repo: "r", hook_id: "1" }, new URLSearchParams(), undefined).body).toEqual(["a request body is required"]);
        expect(op("repos/get-webhook").validateRequest({ owner: "o", repo: "r", hook_id: "abc" }, new URLSearchParams(), undefined).path).toHaveLength(1);
        const list = op("repos/list-deployments");
        expect(list.validateRequest({ owner: "o", repo: "r" }, new URLSearchParams("sha=abc&environment=selfpages&per_page=5"), undefined)).toEqual(none);
        expect(list.validateRequest({ owner: "o", repo: "r" }, new URLSearchParams("per_page=many"), undefined).query).toHaveLength(1);
    });

    it("routes methods and paths as GitHub's operations", () => {
        const found = matchOperation("POST", "/repos/Do-It-ECM/do-it/deployments/12/statuses");
        expect(found.operation?.operationId).toBe("repos/create-deployment-status");
        expect(found.operation && "params" in found ? found.params : undefined).toEqual({ owner: "Do-It-ECM", repo: "do-it", deployment_id: "12" });
        expect(matchOperation("PUT", "/repos/o/r/hooks/12")).toEqual({ operation: undefined, pathKnown: true });
        expect(matchOperation("GET", "/repos/o/r/issues")).toEqual({ operation: undefined, pathKnown: false });
    });

    it("the push and ping payloads the stand-in builds fit the description's webhook schemas", () => {
        const headers = { "User-Agent": "x", "X-GitHub-Hook-ID": "1", "X-GitHub-Event": "push", "X-GitHub-Hook-Installation-Target-ID": "1", "X-GitHub-Hook-Installation-Target-Type": "repository", "X-GitHub-Delivery": "d" };
        const push = pushPayload(repo, { ref: "refs/heads/gh-pages", after: "a".repeat(40), before: "b".repeat(40) });
        expect(validateWebhook("push", push, headers, false)).toEqual([]);
        expect(validateWebhook("push", push, headers, true)).toEqual(["webhook push: header X-Hub-Signature-256 missing"]);
        expect(push).toMatchObject({ ref: "refs/heads/gh-pages", after: "a".repeat(40), before: "b".repeat(40), created: false, deleted: false, repository: { id: repo.id, full_name: "Do-It-ECM/do-it", name: "do-it", owner: { login: "Do-It-ECM" } } });
        expect(JSON.stringify(push)).not.toMatch(/Codertocat|Hello-World/);
        const deletion = pushPayload(repo, { ref: "refs/heads/old", after: "0".repeat(40), before: "b".repeat(40) });
        expect(deletion).toMatchObject({ deleted: true, head_commit: null, commits: [] });
        expect(validateWebhook("push", deletion, headers, false)).toEqual([]);
        expect(validateWebhook("push", { ...push, repository: { id: "x" } }, headers, false).length).toBeGreaterThan(10);

        const hook = { type: "Repository", id: 5, name: "web", active: true, events: ["push"], config: { content_type: "json", insecure_ssl: "0", secret: "********", url: "http://127.0.0.1:1/webhook" }, created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", last_response: { code: null, status: "unused", message: null } };
        const ping = pingPayload(repo, hook);
        expect(validateWebhook("ping", ping, { ...headers, "X-GitHub-Event": "ping" }, false)).toEqual([]);
        expect(ping).toMatchObject({ hook_id: 5, hook, repository: { full_name: "Do-It-ECM/do-it" }, sender: { login: "Do-It-ECM" } });
        expect(typeof ping.zen).toBe("string");
    });
});
