import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGitHubStandin, type GitHubStandin } from "../../../sandbox/github/server";
import { apiClient } from "./helpers";

describe("the stand-in refuses what GitHub refuses, with GitHub's error bodies", () => {
    const token = "ghp_standinErrorsToken00000000000000000000";
    const hooks = "/repos/Do-It-ECM/do-it/hooks";
    const deployments = "/repos/Do-It-ECM/do-it/deployments";
    const url = "http://127.0.0.1:9/webhook";
    let standin: GitHubStandin;
    let api: ReturnType<typeof apiClient>;

    beforeAll(async () => {
        standin = await startGitHubStandin({ token, repositories: ["Do-It-ECM/do-it", "Do-It-ECM/other"] });
        api = apiClient(standin.apiUrl, token);
    });

    afterAll(async () => {
        await standin?.close();
    });

    it("401 without a token or with a wrong one; both token schemes work", async () => {
        const missing = await api("GET", deployments, undefined, { authorization: null });
        expect(missing.status).toBe(401);
        expect(missing.json).toEqual({ message: "Requires authentication", documentation_url: "https://docs.github.com/rest", status: "401" });
        for (const authorization of [`Bearer ${token}x`, "Bearer", `Basic ${Buffer.from(`x:${token}`).toString("base64")}`, token]) {
            const wrong = await api("GET", deployments, undefined, { authorization });
            expect(wrong.status, authorization).toBe(401);
            expect(wrong.json.message).toBe("Bad credentials");
        }
        expect((await api("GET", deployments, undefined, { authorization: `token ${token}` })).status).toBe(200);
        expect((await api("GET", deployments, undefined, { authorization: `bearer ${token}` })).status).toBe(200);
        // Credentials are checked before anything else, as GitHub does.
        expect((await api("GET", "/repos/nobody/nothing/deployments", undefined, { authorization: null })).status).toBe(401);
    });

    it("404 for unknown repositories, hooks, paths and methods", async () => {
        const unknownRepo = await api("GET", "/repos/someone/else/deployments");
        expect(unknownRepo.status).toBe(404);
        expect(unknownRepo.json).toEqual({ message: "Not Found", documentation_url: "https://docs.github.com/rest/deployments/deployments#list-deployments", status: "404" });
        expect((await api("GET", "/REPOS/do-it-ecm/do-it/deployments")).status).toBe(404);
        // An operation selfpages does not call is not served.
        expect((await api("GET", hooks)).status).toBe(404);
        expect((await api("GET", `${hooks}/123`)).status).toBe(404);
        expect((await api("GET", `${hooks}/abc`)).status).toBe(404);
        expect((await api("PATCH", `${hooks}/123/config`, { url })).status).toBe(404);
        expect((await api("PUT", `${hooks}/123`, {})).status).toBe(404);
        expect((await api("GET", "/user")).status).toBe(404);
        // A hook of one repository is not reachable through another.
        const created = await api("POST", hooks, { config: { url } });
        expect((await api("GET", `/repos/Do-It-ECM/other/hooks/${created.json.id}`)).status).toBe(404);
        await api("DELETE", `${hooks}/${created.json.id}`);
    });

    it("400 for a body that is not JSON", async () => {
        const bad = await api("POST", hooks, undefined, { rawBody: "{not json" });
        expect(bad.status).toBe(400);
        expect(bad.json).toEqual({ message: "Problems parsing JSON", documentation_url: "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook", status: "400" });
    });

    it("422 for bodies the description's schema refuses", async () => {
        for (const body of [{ config: { url: 42 } }, { config: { url: "not a url" } }, { events: "push", config: { url } }, { active: "yes", config: { url } }, { colour: "red", config: { url } }, [1, 2]]) {
            const refused = await api("POST", hooks, body);
            expect(refused.status, JSON.stringify(body)).toBe(422);
            expect(refused.json.message, JSON.stringify(body)).toMatch(/^Invalid request\.\n\n/);
            expect(refused.json.documentation_url).toBe("https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook");
        }
        expect((await api("PATCH", `${hooks}/1`, undefined)).status).toBe(422);
        expect((await api("GET", `${deployments}?per_page=lots`)).status).toBe(422);
        expect(standin.hooks("Do-It-ECM/do-it")).toEqual([]);
    });

    it("422 Validation Failed for what fits the schema but not GitHub's rules for hooks", async () => {
        const noUrl = await api("POST", hooks, { events: ["push"] });
        expect(noUrl.status).toBe(422);
        expect(noUrl.json).toEqual({ message: "Validation Failed", errors: [{ resource: "Hook", code: "custom", message: "Config must contain URL for webhooks" }], documentation_url: "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook", status: "422" });
        expect((await api("POST", hooks, null)).status).toBe(422);
        expect((await api("POST", hooks, { name: "travis", config: { url } })).json.errors[0]).toMatchObject({ field: "name" });
        expect((await api("POST", hooks, { config: { url, content_type: "xml" } })).json.errors[0]).toMatchObject({ field: "content_type", code: "invalid" });
        expect((await api("POST", hooks, { config: { url, insecure_ssl: "2" } })).json.errors[0]).toMatchObject({ field: "insecure_ssl" });
        expect((await api("POST", hooks, { config: { url: "ftp://example.com/hook" } })).json.errors[0]).toMatchObject({ field: "url" });

        const first = await api("POST", hooks, { config: { url, insecure_ssl: 0 }, events: ["push"] });
        expect(first.status).toBe(201);
        expect(first.json.config).toEqual({ content_type: "form", insecure_ssl: "0", url });
        const duplicate = await api("POST", hooks, { config: { url }, events: ["push", "release"] });
        expect(duplicate.json.errors).toEqual([{ resource: "Hook", code: "custom", message: "Hook already exists on this repository" }]);
        // Same URL, events that do not overlap: allowed.
        expect((await api("POST", hooks, { config: { url }, events: ["release"] })).status).toBe(201);
        // A PATCH whose config has no URL is refused and changes nothing.
        expect((await api("PATCH", `${hooks}/${first.json.id}`, { config: { content_type: "json" }, active: false })).status).toBe(422);
        expect((await api("GET", `${hooks}/${first.json.id}`)).json).toMatchObject({ active: true, config: { content_type: "form" } });
        for (const h of standin.hooks("Do-It-ECM/do-it")) await api("DELETE", `${hooks}/${h.id}`);
    });

    it("answered every one of these as GitHub's description says", () => {
        expect(standin.validationErrors()).toEqual([]);
    });
});
