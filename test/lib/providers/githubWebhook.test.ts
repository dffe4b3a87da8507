import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubWebhookProvider, type GitHubWebhookInputs } from "../../../lib/providers/githubWebhook";
import { startGitHubStandin, type GitHubStandin } from "../../../sandbox/github/server";
import { webhooksMethods } from "../../../sandbox/github/webhooksMethods";
import { sha, startReceiver, type Receiver } from "../../sandbox/github/helpers";

/** The project's own GitHub client (the GitHubWebhook dynamic provider) against the stand-in. */
describe("the GitHubWebhook provider against the stand-in", () => {
    const token = "ghp_standinProviderToken00000000000000000";
    const repo = "Do-It-ECM/do-it";
    let standin: GitHubStandin;
    let receiver: Receiver;
    let inputs: GitHubWebhookInputs;

    beforeAll(async () => {
        receiver = await startReceiver();
        standin = await startGitHubStandin({ token, repositories: [repo] });
        inputs = { apiUrl: standin.apiUrl, token, owner: "Do-It-ECM", repo: "do-it", url: receiver.url, secret: "first-secret", events: ["push"], contentType: "json", active: true };
    });

    afterAll(async () => {
        await standin?.close();
        await receiver?.close();
    });

    it("create, read, rotate the secret, notice a hook deleted by hand, delete twice", async () => {
        const provider = githubWebhookProvider as Required<typeof githubWebhookProvider>;
        const create = async () => {
            const result = await provider.create(inputs);
            if (!result.outs) throw new Error("create returned no outputs");
            return { id: result.id, outs: result.outs };
        };
        const created = await create();
        const [hook] = standin.hooks(repo);
        expect(created.id).toBe(String(hook.id));
        expect(hook.config).toEqual({ url: receiver.url, content_type: "json", insecure_ssl: "0", secret: "first-secret" });

        const read = await provider.read(created.id, created.outs);
        expect(read.props).toMatchObject({ url: receiver.url, contentType: "json", events: ["push"], active: true, secret: "first-secret" });

        await provider.update(created.id, created.outs, { ...inputs, secret: "second-secret" });
        expect(standin.hooks(repo)[0].config.secret).toBe("second-secret");
        const [push] = await standin.sendPush(repo, { ref: "refs/heads/gh-pages", after: sha("a") });
        const last = receiver.received[receiver.received.length - 1];
        expect(push.status_code).toBe(202);
        expect(await (await webhooksMethods()).verify("second-secret", last.body.toString(), String(last.headers["x-hub-signature-256"]))).toBe(true);

        standin.deleteHookBehindPulumisBack(repo, hook.id);
        expect((await provider.read(created.id, created.outs)).id).toBe("");
        await expect(provider.update(created.id, created.outs, inputs)).rejects.toThrow(/404/);

        const again = await create();
        await provider.delete(again.id, again.outs);
        await provider.delete(again.id, again.outs);
        expect(standin.hooks(repo)).toEqual([]);
        expect(standin.validationErrors()).toEqual([]);
    });
});
