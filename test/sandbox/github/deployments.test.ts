import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandin, type GitHubStandin } from "../../../sandbox/github/server";
import { apiClient, sha } from "./helpers";

/** Deployments, their statuses and environments through the stand-in's API, as GitHub documents them. */
describe("deployments, statuses and environments on the stand-in", () => {
    const token = "ghp_standinDeploymentsMainToken000000000000";
    const deploymentsToken = "github_pat_standinDeploymentsOnly0000000000";
    const repo = "Do-It-ECM/do-it";
    const base = `/repos/${repo}`;
    let standin: GitHubStandin;
    let admin: ReturnType<typeof apiClient>;
    let deployer: ReturnType<typeof apiClient>;
    const logLines: string[] = [];

    beforeAll(async () => {
        standin = await startGitHubStandin({ token, deploymentsToken, repositories: [repo], log: (line) => logLines.push(line) });
        admin = apiClient(standin.apiUrl, token);
        deployer = apiClient(standin.apiUrl, deploymentsToken);
    });

    afterAll(async () => {
        await standin?.close();
    });

    const deploy = async (ref: string, extra: Record<string, unknown> = {}) => {
        const created = await deployer("POST", `${base}/deployments`, { ref, environment: "selfpages", auto_merge: false, required_contexts: [], ...extra });
        expect(created.status, created.text).toBe(201);
        return created.json as { id: number; environment: string };
    };
    const setStatus = async (id: number, body: Record<string, unknown>) => {
        const created = await deployer("POST", `${base}/deployments/${id}/statuses`, body);
        expect(created.status, created.text).toBe(201);
        return created.json;
    };
    /** A deployment's statuses, newest first (as GitHub lists them). */
    const statusesOf = (id: number) => [...(standin.deploymentsOf(repo).find((d) => d.id === id)?.statuses ?? [])].reverse();
    const states = async (id: number) => statusesOf(id).map((s) => s.state);

    it("creates, updates, gets and deletes an environment (main token), 404 once gone", async () => {
        const created = await admin("PUT", `${base}/environments/selfpages`);
        expect(created.status).toBe(200);
        expect(created.json).toMatchObject({ name: "selfpages", url: `${standin.apiUrl}${base}/environments/selfpages`, protection_rules: [], deployment_branch_policy: null });
        expect((await admin("PUT", `${base}/environments/selfpages`, {})).json.id).toBe(created.json.id);
        // Names match case-insensitively.
        expect((await admin("GET", `${base}/environments/SelfPages`)).json.id).toBe(created.json.id);

        const timed = await admin("PUT", `${base}/environments/staging`, { wait_timer: 30, deployment_branch_policy: { protected_branches: true, custom_branch_policies: false } });
        expect(timed.json.protection_rules.map((r: { type: string }) => r.type)).toEqual(["wait_timer", "branch_policy"]);
        expect((await admin("PUT", `${base}/environments/staging`, { deployment_branch_policy: { protected_branches: true, custom_branch_policies: true } })).status).toBe(422);
        expect((await admin("PUT", `${base}/environments/staging`, { colour: "red" })).status).toBe(422);

        expect((await admin("DELETE", `${base}/environments/staging`)).status).toBe(204);
        expect((await admin("GET", `${base}/environments/staging`)).status).toBe(404);
        expect((await admin("DELETE", `${base}/environments/staging`)).status).toBe(404);
    });

    it("creates a deployment for a SHA with GitHub's defaults, the token's account as creator, and a Location", async () => {
        const created = await deployer("POST", `${base}/deployments`, { ref: sha("a"), environment: "selfpages", auto_merge: false, required_contexts: [], description: "deploy of gh-pages" });
        expect(created.status).toBe(201);
        expect(created.json).toMatchObject({
            sha: sha("a"),
            ref: sha("a"),
            task: "deploy",
            environment: "selfpages",
            original_environment: "selfpages",
            description: "deploy of gh-pages",
            payload: {},
            transient_environment: false,
            production_environment: false,
            creator: { login: "selfpages-deployer", type: "User" },
            statuses_url: `${standin.apiUrl}${base}/deployments/${created.json.id}/statuses`,
            repository_url: `${standin.apiUrl}${base}`,
        });
        expect(created.headers.get("location")).toBe(created.json.url);
        expect((await deployer("GET", `${base}/deployments?sha=${sha("a")}`)).json[0]).toEqual(created.json);
        expect(await states(created.json.id)).toEqual([]);
    });

    it("defaults to the production environment (production_environment true there), creating environments it deploys to", async () => {
        const created = await deployer("POST", `${base}/deployments`, { ref: sha("b"), required_contexts: [] });
        expect(created.json).toMatchObject({ environment: "production", production_environment: true });
        const review = await deployer("POST", `${base}/deployments`, { ref: sha("b"), environment: "review-42", transient_environment: true, payload: '{"pr": 42}' });
        expect(review.json).toMatchObject({ environment: "review-42", transient_environment: true, production_environment: false, payload: { pr: 42 } });
        for (const name of ["production", "review-42"]) expect((await admin("GET", `${base}/environments/${name}`)).status, name).toBe(200);
        expect((await deployer("POST", `${base}/deployments`, { ref: sha("b"), payload: "not json" })).status).toBe(422);
    });

    it("resolves a branch from the pushes it was sent, and refuses a ref it does not know", async () => {
        await standin.sendPush(repo, { ref: "refs/heads/gh-pages", after: sha("c") });
        const created = await deployer("POST", `${base}/deployments`, { ref: "gh-pages", environment: "selfpages", auto_merge: false, required_contexts: [] });
        expect(created.json).toMatchObject({ ref: "gh-pages", sha: sha("c") });
        const unknown = await deployer("POST", `${base}/deployments`, { ref: "no-such-branch" });
        expect(unknown.status).toBe(422);
        expect(unknown.json.message).toBe("No ref found for: no-such-branch");
        expect((await deployer("POST", `${base}/deployments`, { environment: "selfpages" })).status).toBe(422);
    });

    it("lists deployments newest first, filtered by sha and environment, paginated with Link", async () => {
        const first = await deploy(sha("d"));
        const second = await deploy(sha("e"));
        const listed = await deployer("GET", `${base}/deployments?environment=selfpages`);
        expect(listed.json[0].id).toBe(second.id);
        expect(listed.json[1].id).toBe(first.id);
        expect((await deployer("GET", `${base}/deployments?sha=${sha("d")}`)).json.map((d: { id: number }) => d.id)).toEqual([first.id]);
        expect((await deployer("GET", `${base}/deployments?sha=${sha("d")}&environment=production`)).json).toEqual([]);
        const page = await deployer("GET", `${base}/deployments?per_page=1`);
        expect(page.json).toHaveLength(1);
        expect(page.headers.get("link")).toMatch(/rel="next".*rel="last"/);
    });

    it("records statuses newest first; log_url sets target_url; the description is 140 characters at most", async () => {
        const { id } = await deploy(sha("f"));
        await setStatus(id, { state: "in_progress", description: "deploying", log_url: "https://example.org/log/1" });
        const success = await setStatus(id, { state: "success", environment_url: "http://do-it.example.org/", description: "deployed" });
        expect(success).toMatchObject({ state: "success", environment: "selfpages", environment_url: "http://do-it.example.org/", log_url: "", target_url: "", creator: { login: "selfpages-deployer" } });
        const listed = statusesOf(id);
        expect(listed.map((s) => s.state)).toEqual(["success", "in_progress"]);
        expect(listed[1]).toMatchObject({ log_url: "https://example.org/log/1", target_url: "https://example.org/log/1", description: "deploying" });
        expect((await deployer("POST", `${base}/deployments/999/statuses`, { state: "success" })).status).toBe(404);

        const long = await deployer("POST", `${base}/deployments/${id}/statuses`, { state: "failure", description: "x".repeat(141) });
        expect(long.status).toBe(422);
        expect(long.json.errors[0]).toMatchObject({ resource: "DeploymentStatus", field: "description" });
        expect((await deployer("POST", `${base}/deployments/${id}/statuses`, { state: "failure", description: "x".repeat(140) })).status).toBe(201);
        expect((await deployer("POST", `${base}/deployments/${id}/statuses`, { state: "failure", environment_url: "not a url" })).status).toBe(422);
        expect((await deployer("POST", `${base}/deployments/${id}/statuses`, { state: "finished" })).status).toBe(422);
        expect((await deployer("POST", `${base}/deployments/${id}/statuses`, {})).status).toBe(422);
    });

    it("auto_inactive: a new success makes the environment's previous successful deployments inactive, and only those", async () => {
        const env = { environment: "pages-like" };
        const production = await deploy(sha("3"), { ...env, production_environment: true });
        await setStatus(production.id, { state: "success" });
        const transient = await deploy(sha("4"), { ...env, transient_environment: true });
        await setStatus(transient.id, { state: "success" });
        const old = await deploy(sha("1"), env);
        await setStatus(old.id, { state: "success" });
        const failed = await deploy(sha("2"), env);
        await setStatus(failed.id, { state: "failure" });
        const elsewhere = await deploy(sha("5"), { environment: "other" });
        await setStatus(elsewhere.id, { state: "success" });

        const current = await deploy(sha("6"), env);
        await setStatus(current.id, { state: "in_progress" });
        expect(await states(old.id)).toEqual(["success"]);
        await setStatus(current.id, { state: "success" });
        expect(await states(old.id)).toEqual(["inactive", "success"]);
        expect(await states(failed.id)).toEqual(["failure"]);
        expect(await states(production.id)).toEqual(["success"]);
        expect(await states(transient.id)).toEqual(["success"]);
        expect(await states(elsewhere.id)).toEqual(["success"]);
        expect(await states(current.id)).toEqual(["success", "in_progress"]);

        // auto_inactive false leaves the previous one active.
        const next = await deploy(sha("7"), env);
        await setStatus(next.id, { state: "success", auto_inactive: false });
        expect(await states(current.id)).toEqual(["success", "in_progress"]);
        const last = await deploy(sha("8"), env);
        await setStatus(last.id, { state: "success" });
        expect((await states(current.id))[0]).toBe("inactive");
        expect((await states(next.id))[0]).toBe("inactive");
        expect(await states(old.id)).toEqual(["inactive", "success"]);
    });

    it("the deployments token may use the deployments endpoints only; a wrong token gets 401", async () => {
        expect((await deployer("GET", `${base}/hooks/1`)).status).toBe(403);
        const environment = await deployer("PUT", `${base}/environments/selfpages`);
        expect(environment.status).toBe(403);
        expect(environment.json.message).toBe("Resource not accessible by personal access token");
        expect((await deployer("GET", `${base}/environments/selfpages`)).status).toBe(403);
        expect((await admin("GET", `${base}/deployments`)).status).toBe(200);
        expect((await apiClient(standin.apiUrl, "ghp_wrong")("GET", `${base}/deployments`)).status).toBe(401);
        expect((await deployer("GET", `${base}/deployments`, undefined, { authorization: null })).status).toBe(401);
    });

    it("logs each API request (operation, status, which token) and never a token or a body", async () => {
        const before = standin.apiRequests().length;
        await deployer("POST", `${base}/deployments`, { ref: sha("a"), environment: "selfpages", description: "body-text-never-logged" });
        await deployer("GET", `${base}/hooks/1`);
        const recent = standin.apiRequests().slice(before);
        expect(recent.map((r) => [r.method, r.operationId, r.status, r.token])).toEqual([
            ["POST", "repos/create-deployment", 201, "deployments"],
            ["GET", "repos/get-webhook", 403, "deployments"],
        ]);
        const text = JSON.stringify(standin.apiRequests()) + logLines.join("\n");
        for (const secret of [token, deploymentsToken, "body-text-never-logged"]) expect(text).not.toContain(secret);
    });

    it("the fault switch: 500 or no answer from the deployments and environments endpoints, the hooks endpoints untouched", async () => {
        const control = async (method: string, path: string, body?: unknown) => {
            const response = await fetch(`${standin.apiUrl}/_standin/${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
            return { status: response.status, json: (await response.json()) as unknown };
        };
        expect(await control("PUT", "fault", { mode: "500" })).toEqual({ status: 200, json: { mode: "500" } });
        const failing = await deployer("POST", `${base}/deployments`, { ref: sha("a"), environment: "selfpages" });
        expect(failing.status).toBe(500);
        expect((await admin("PUT", `${base}/environments/selfpages`)).status).toBe(500);
        // Answered (there is no hook 1), not faulted.
        expect((await admin("GET", `${base}/hooks/1`)).status).toBe(404);

        standin.setFault("hang");
        const started = Date.now();
        await expect(fetch(`${standin.apiUrl}${base}/deployments`, { headers: { authorization: `Bearer ${deploymentsToken}` }, signal: AbortSignal.timeout(300) })).rejects.toThrow();
        expect(Date.now() - started).toBeGreaterThanOrEqual(290);
        expect((await admin("GET", `${base}/hooks/1`)).status).toBe(404);

        expect((await control("PUT", "fault", { mode: "none" })).status).toBe(200);
        expect((await deployer("GET", `${base}/deployments`)).status).toBe(200);
        expect((await control("PUT", "fault", { mode: "sometimes" })).status).toBe(400);

        const requests = (await control("GET", "requests")).json as Array<{ operationId?: string; status: number }>;
        const faulted = requests.filter((r) => r.status === 500 || r.status === 0);
        expect(faulted.map((r) => [r.operationId, r.status])).toEqual([
            ["repos/create-deployment", 500],
            ["repos/create-or-update-environment", 500],
            ["repos/list-deployments", 0],
        ]);
    });

    it("every answer fitted GitHub's description", () => {
        expect(standin.validationErrors()).toEqual([]);
    });
});
