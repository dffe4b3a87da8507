import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubEnvironmentProvider, type GitHubEnvironmentInputs } from "../../../lib/providers/githubEnvironment";
import { startGitHubStandin, type GitHubStandin } from "../../../sandbox/github/server";
import { apiClient } from "../../sandbox/github/helpers";

/** The project's GitHubEnvironment dynamic provider against the stand-in. */
describe("the GitHubEnvironment provider against the stand-in", () => {
    const token = "ghp_standinEnvironmentProviderToken000000";
    const deploymentsToken = "github_pat_standinEnvironmentDeployOnly000";
    const repo = "Do-It-ECM/do-it";
    let standin: GitHubStandin;
    let inputs: GitHubEnvironmentInputs;
    const provider = githubEnvironmentProvider as Required<typeof githubEnvironmentProvider>;

    beforeAll(async () => {
        standin = await startGitHubStandin({ token, deploymentsToken, repositories: [repo] });
        inputs = { apiUrl: standin.apiUrl, token, owner: "Do-It-ECM", repo: "do-it", name: "selfpages" };
    });

    afterAll(async () => {
        await standin?.close();
    });

    it("create, read, notice an environment deleted by hand, delete twice", async () => {
        const api = apiClient(standin.apiUrl, token);
        const result = await provider.create(inputs);
        if (!result.outs) throw new Error("create returned no outputs");
        const created = { id: result.id, outs: result.outs };
        expect(created.outs).toMatchObject({ ...inputs, environmentId: Number(created.id), htmlUrl: `https://github.com/${repo}/deployments/activity_log?environments_filter=selfpages` });
        expect((await api("GET", `/repos/${repo}/environments/selfpages`)).json.id).toBe(Number(created.id));

        const read = await provider.read(created.id, created.outs);
        expect(read).toEqual({ id: created.id, props: created.outs });

        // Created again (a second stack, or after a refresh): the same environment, untouched.
        await api("PUT", `/repos/${repo}/environments/selfpages`, { wait_timer: 5 });
        const again = await provider.create(inputs);
        expect(again.id).toBe(created.id);
        expect((await api("GET", `/repos/${repo}/environments/selfpages`)).json.protection_rules).toHaveLength(1);

        await provider.delete(created.id, created.outs);
        expect((await api("GET", `/repos/${repo}/environments/selfpages`)).status).toBe(404);
        expect((await provider.read(created.id, created.outs)).id).toBe("");
        await provider.delete(created.id, created.outs);
        expect(standin.validationErrors()).toEqual([]);
    });

    it("diff: another name or repository replaces; another token, or the name in another case, updates in place", async () => {
        const olds = { ...inputs, environmentId: 1, htmlUrl: "x" };
        expect(await provider.diff("1", olds, { ...inputs, name: "production" })).toMatchObject({ changes: true, replaces: ["name"] });
        expect(await provider.diff("1", olds, { ...inputs, repo: "other" })).toMatchObject({ changes: true, replaces: ["repo"] });
        expect(await provider.diff("1", olds, { ...inputs, token: "ghp_another" })).toMatchObject({ changes: true, replaces: [] });
        expect(await provider.diff("1", olds, { ...inputs, name: "SelfPages" })).toMatchObject({ changes: true, replaces: [] });
        expect(await provider.diff("1", olds, inputs)).toMatchObject({ changes: false });
    });

    it("fails with GitHub's message, never the token, when the token may not manage environments", async () => {
        const error = await provider.create({ ...inputs, token: deploymentsToken }).then(() => undefined, (e: Error) => e);
        expect(error?.message).toMatch(/PUT \/repos\/Do-It-ECM\/do-it\/environments\/selfpages answered 403: Resource not accessible by personal access token/);
        expect(error?.message).not.toContain(deploymentsToken);
    });
});
