import * as pulumi from "@pulumi/pulumi";
import { callGitHub } from "./githubRest";
import { DynamicResource } from "./dynamicResource";

/** What the GitHub repository hook is made of; token and secret are stored as secrets. */
export interface GitHubWebhookInputs {
    apiUrl: string;
    token: string;
    owner: string;
    repo: string;
    url: string;
    secret: string;
    events: string[];
    contentType: "json" | "form";
    active: boolean;
}

export interface GitHubWebhookOutputs extends GitHubWebhookInputs {
    hookId: number;
}

type Args = { [K in keyof GitHubWebhookInputs]: pulumi.Input<GitHubWebhookInputs[K]> };

interface HookBody {
    id: number;
    active: boolean;
    events: string[];
    config: { url?: string; content_type?: string };
}

function hookRequestBody(inputs: GitHubWebhookInputs) {
    // The secret is always sent: a PATCH of the hook without it would drop it (GitHub's behaviour).
    return {
        active: inputs.active,
        events: inputs.events,
        config: { url: inputs.url, content_type: inputs.contentType, secret: inputs.secret, insecure_ssl: "0" },
    };
}

const hooksPath = (inputs: Pick<GitHubWebhookInputs, "owner" | "repo">) => `/repos/${encodeURIComponent(inputs.owner)}/${encodeURIComponent(inputs.repo)}/hooks`;

export const githubWebhookProvider: pulumi.dynamic.ResourceProvider<GitHubWebhookInputs, GitHubWebhookOutputs> = {
    async check(_olds, news) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (!/^https?:\/\//.test(news.url ?? "")) failures.push({ property: "url", reason: "must be an http(s) URL" });
        if (!news.secret) failures.push({ property: "secret", reason: "must not be empty" });
        if (!news.token) failures.push({ property: "token", reason: "must not be empty" });
        if (!Array.isArray(news.events) || news.events.length === 0) failures.push({ property: "events", reason: "must list at least one event" });
        return { inputs: news, failures };
    },

    async diff(_id, olds, news) {
        const replaces = (["apiUrl", "owner", "repo"] as const).filter((k) => olds[k] !== news[k]);
        const changed = (["url", "secret", "token", "contentType", "active"] as const).filter((k) => olds[k] !== news[k]);
        if (JSON.stringify(olds.events) !== JSON.stringify(news.events)) changed.push("events" as never);
        return { changes: replaces.length + changed.length > 0, replaces, deleteBeforeReplace: false };
    },

    async create(inputs) {
        const { status, json } = await callGitHub(inputs, "POST", hooksPath(inputs), { name: "web", ...hookRequestBody(inputs) });
        if (status !== 201) throw new Error(`GitHub API POST ${hooksPath(inputs)} answered ${status}: repository not found or token not allowed`);
        const hook = json as HookBody;
        return { id: String(hook.id), outs: { ...inputs, hookId: hook.id } };
    },

    async read(id, props) {
        if (!props) throw new Error(`cannot import GitHub hook ${id}: its API URL, token and repository are unknown`);
        const { status, json } = await callGitHub(props, "GET", `${hooksPath(props)}/${id}`);
        // Deleted by hand: an empty id tells the engine the resource is gone, and `up` recreates it.
        if (status === 404) return { id: "" };
        const hook = json as HookBody;
        const contentType = hook.config.content_type === "form" ? "form" : "json";
        // GitHub masks the secret on GET; the value in state is the one we set.
        return { id, props: { ...props, hookId: hook.id, url: hook.config.url ?? "", contentType, events: hook.events, active: hook.active } };
    },

    async update(id, _olds, news) {
        const { status } = await callGitHub(news, "PATCH", `${hooksPath(news)}/${id}`, hookRequestBody(news));
        if (status === 404) throw new Error(`GitHub API PATCH ${hooksPath(news)}/${id} answered 404: the hook is gone; run \`pulumi refresh\` then \`pulumi up\``);
        return { outs: { ...news, hookId: Number(id) } };
    },

    async delete(id, props) {
        // Already gone is fine: destroy must converge.
        await callGitHub(props, "DELETE", `${hooksPath(props)}/${id}`);
    },
};

/**
 * The repository's GitHub webhook (push events, JSON, signed with the generated secret), managed
 * through GitHub's REST API: create, read (so `pulumi refresh` notices a hook deleted by hand),
 * update (PATCH, secret resent), delete.
 */
export class GitHubWebhook extends DynamicResource {
    declare public readonly hookId: pulumi.Output<number>;
    declare public readonly url: pulumi.Output<string>;
    declare public readonly secret: pulumi.Output<string>;
    declare public readonly token: pulumi.Output<string>;

    constructor(name: string, args: Args, opts?: pulumi.CustomResourceOptions) {
        super(githubWebhookProvider, name, { hookId: undefined, ...args }, { ...opts, additionalSecretOutputs: ["secret", "token"] }, "selfpages", "GitHubWebhook");
    }
}
