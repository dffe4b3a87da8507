import * as pulumi from "@pulumi/pulumi";
import { callGitHub } from "./githubRest";
import { DynamicResource } from "./dynamicResource";

/** A GitHub deployment environment; the token is stored as a secret. */
export interface GitHubEnvironmentInputs {
    apiUrl: string;
    token: string;
    owner: string;
    repo: string;
    name: string;
}

export interface GitHubEnvironmentOutputs extends GitHubEnvironmentInputs {
    environmentId: number;
    htmlUrl: string;
}

type Args = { [K in keyof GitHubEnvironmentInputs]: pulumi.Input<GitHubEnvironmentInputs[K]> };

interface EnvironmentBody {
    id: number;
    name: string;
    html_url: string;
}

/** The environment's REST path. */
const environmentPath = (inputs: Pick<GitHubEnvironmentInputs, "owner" | "repo" | "name">) =>
    `/repos/${encodeURIComponent(inputs.owner)}/${encodeURIComponent(inputs.repo)}/environments/${encodeURIComponent(inputs.name)}`;

export const githubEnvironmentProvider: pulumi.dynamic.ResourceProvider<GitHubEnvironmentInputs, GitHubEnvironmentOutputs> = {
    async check(_olds, news) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (!news.name) failures.push({ property: "name", reason: "must not be empty" });
        if (!news.token) failures.push({ property: "token", reason: "must not be empty" });
        return { inputs: news, failures };
    },

    async diff(_id, olds, news) {
        // GitHub matches environment names case-insensitively: only another name is another environment.
        const replaces = (["apiUrl", "owner", "repo"] as const).filter((k) => olds[k] !== news[k]);
        if (olds.name.toLowerCase() !== news.name.toLowerCase()) replaces.push("name" as never);
        const changed = (["token", "name"] as const).filter((k) => olds[k] !== news[k]);
        return { changes: replaces.length + changed.length > 0, replaces, deleteBeforeReplace: false };
    },

    async create(inputs) {
        // No body: an environment that exists (made by hand, or by a deployment) keeps its protection rules.
        const { status, json } = await callGitHub(inputs, "PUT", environmentPath(inputs));
        if (status !== 200) throw new Error(`GitHub API PUT environment ${inputs.name} answered ${status}: repository not found or token not allowed`);
        const environment = json as EnvironmentBody;
        return { id: String(environment.id), outs: { ...inputs, environmentId: environment.id, htmlUrl: environment.html_url } };
    },

    async read(id, props) {
        if (!props) throw new Error(`cannot import GitHub environment ${id}: its API URL, token and repository are unknown`);
        const { status, json } = await callGitHub(props, "GET", environmentPath(props));
        // Deleted by hand: an empty id tells the engine the resource is gone, and `up` recreates it.
        if (status === 404) return { id: "" };
        const environment = json as EnvironmentBody;
        return { id: String(environment.id), props: { ...props, environmentId: environment.id, htmlUrl: environment.html_url } };
    },

    async update(_id, olds, news) {
        // A new token, or the same name in another case: nothing to change in GitHub.
        return { outs: { ...news, environmentId: olds.environmentId, htmlUrl: olds.htmlUrl } };
    },

    async delete(_id, props) {
        // Already gone is fine: destroy must converge.
        await callGitHub(props, "DELETE", environmentPath(props));
    },
};

/**
 * The repository's deployment environment the deploys are reported in, managed through GitHub's
 * REST API (PUT to create, GET to notice one deleted by hand, DELETE on destroy). Creating and
 * deleting environments takes a token with the repository's "Administration: write" permission.
 */
export class GitHubEnvironment extends DynamicResource {
    declare public readonly environmentId: pulumi.Output<number>;
    declare public readonly htmlUrl: pulumi.Output<string>;
    declare public readonly token: pulumi.Output<string>;

    constructor(name: string, args: Args, opts?: pulumi.CustomResourceOptions) {
        super(githubEnvironmentProvider, name, { environmentId: undefined, htmlUrl: undefined, ...args }, { ...opts, additionalSecretOutputs: ["token"] }, "selfpages", "GitHubEnvironment");
    }
}
