/**
 * A repository's deployments, their statuses and its environments, with GitHub's documented rules
 * (the ones the JSON schemas do not express):
 * - a deployment's environment defaults to `production`, which is also the only name whose
 *   `production_environment` defaults to true; deploying to an environment that does not exist
 *   creates it;
 * - `log_url` sets `target_url` too; a status without `environment` keeps the deployment's;
 * - a `success` status with `auto_inactive` (default true) adds an `inactive` status to every
 *   prior non-transient, non-production deployment of the same repository and environment that
 *   had a `success` state ("Create a deployment status", GitHub's description);
 * - a deployment can be deleted only when it is the repository's only one or is not active;
 * - environment names are matched case-insensitively, as GitHub does.
 * Bodies reaching this module have passed the description's request schemas already.
 */
import { ApiError, notFound, validationFailed } from "./errors";
import { timestamp } from "./hookStore";
import type { RepositoryRef } from "./repositories";

export type DeploymentState = "error" | "failure" | "inactive" | "in_progress" | "queued" | "pending" | "success";

/** The account a token belongs to, as the API's `creator` shows it. */
export interface Account {
    login: string;
    id: number;
}

export interface StoredStatus {
    id: number;
    state: DeploymentState;
    description: string;
    environment: string;
    target_url: string;
    log_url: string;
    environment_url: string;
    created_at: string;
    updated_at: string;
    creator: Account;
}

export interface StoredDeployment {
    id: number;
    repo: string;
    sha: string;
    ref: string;
    task: string;
    payload: Record<string, unknown>;
    original_environment: string;
    environment: string;
    description: string | null;
    transient_environment: boolean;
    production_environment: boolean;
    created_at: string;
    updated_at: string;
    creator: Account;
    /** Oldest first. */
    statuses: StoredStatus[];
}

export interface StoredEnvironment {
    id: number;
    repo: string;
    name: string;
    wait_timer: number;
    prevent_self_review: boolean;
    deployment_branch_policy: { protected_branches: boolean; custom_branch_policies: boolean } | null;
    created_at: string;
    updated_at: string;
}

export interface CreateDeploymentInput {
    ref: string;
    task?: string;
    auto_merge?: boolean;
    required_contexts?: string[];
    payload?: Record<string, unknown> | string;
    environment?: string;
    description?: string | null;
    transient_environment?: boolean;
    production_environment?: boolean;
}

export interface CreateStatusInput {
    state: DeploymentState;
    target_url?: string;
    log_url?: string;
    description?: string;
    environment?: string;
    environment_url?: string;
    auto_inactive?: boolean;
}

export interface EnvironmentInput {
    wait_timer?: number;
    prevent_self_review?: boolean;
    reviewers?: Array<{ type?: string; id?: number }> | null;
    deployment_branch_policy?: { protected_branches: boolean; custom_branch_policies: boolean } | null;
}

export interface DeploymentFilter {
    sha?: string;
    ref?: string;
    task?: string;
    environment?: string;
}

const isUrl = (value: string) => {
    try {
        const url = new URL(value);
        return url.protocol === "http:" || url.protocol === "https:";
    } catch {
        return false;
    }
};

const fullSha = /^[0-9a-f]{40}$/;

export class DeploymentStore {
    private readonly deployments = new Map<number, StoredDeployment>();
    private readonly environments = new Map<string, StoredEnvironment>();
    private nextDeploymentId = 1_800_000_001;
    private nextStatusId = 3_600_000_001;
    private nextEnvironmentId = 600_000_001;

    /**
     * @param resolveRef the commit a branch name or full ref points to (the stand-in knows the heads
     * it was told about by pushes); undefined when it knows none.
     */
    constructor(private readonly resolveRef: (repo: RepositoryRef, ref: string) => string | undefined) {}

    // --- deployments -------------------------------------------------------------------------

    /** Newest first, as GitHub lists them. */
    list(repo: RepositoryRef, filter: DeploymentFilter = {}): StoredDeployment[] {
        return [...this.deployments.values()]
            .filter((d) => d.repo === repo.fullName)
            .filter((d) => filter.sha === undefined || d.sha === filter.sha)
            .filter((d) => filter.ref === undefined || d.ref === filter.ref)
            .filter((d) => filter.task === undefined || d.task === filter.task)
            .filter((d) => filter.environment === undefined || d.environment.toLowerCase() === filter.environment.toLowerCase())
            .reverse();
    }

    get(repo: RepositoryRef, id: number): StoredDeployment {
        const found = this.deployments.get(id);
        if (!found || found.repo !== repo.fullName) throw notFound();
        return found;
    }

    create(repo: RepositoryRef, input: CreateDeploymentInput, creator: Account): StoredDeployment {
        const sha = fullSha.test(input.ref) ? input.ref : this.resolveRef(repo, input.ref);
        if (!sha) throw new ApiError(422, `No ref found for: ${input.ref}`);
        let payload: Record<string, unknown> = {};
        if (typeof input.payload === "string" && input.payload !== "") {
            try {
                const parsed = JSON.parse(input.payload) as unknown;
                if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
                payload = parsed as Record<string, unknown>;
            } catch {
                throw validationFailed({ resource: "Deployment", field: "payload", code: "invalid", message: "payload must be a JSON object" });
            }
        } else if (typeof input.payload === "object") payload = input.payload;
        const name = input.environment ?? "production";
        this.checkEnvironmentName(name);
        const environment = this.environments.get(this.key(repo, name)) ?? this.putEnvironment(repo, name, {});
        const now = timestamp();
        const deployment: StoredDeployment = {
            id: this.nextDeploymentId++,
            repo: repo.fullName,
            sha,
            ref: input.ref,
            task: input.task ?? "deploy",
            payload,
            original_environment: environment.name,
            environment: environment.name,
            description: input.description === undefined ? "" : input.description,
            transient_environment: input.transient_environment ?? false,
            production_environment: input.production_environment ?? environment.name === "production",
            created_at: now,
            updated_at: now,
            creator,
            statuses: [],
        };
        this.deployments.set(deployment.id, deployment);
        return deployment;
    }

    // --- statuses ----------------------------------------------------------------------------

    createStatus(repo: RepositoryRef, deploymentId: number, input: CreateStatusInput, creator: Account): StoredStatus {
        const deployment = this.get(repo, deploymentId);
        const description = input.description ?? "";
        if (description.length > 140) throw validationFailed({ resource: "DeploymentStatus", field: "description", code: "custom", message: "description is too long (maximum is 140 characters)" });
        for (const field of ["target_url", "log_url", "environment_url"] as const) {
            const value = input[field];
            if (value !== undefined && value !== "" && !isUrl(value)) throw validationFailed({ resource: "DeploymentStatus", field, code: "invalid", message: `${field} must be an http(s) URL` });
        }
        if (input.environment !== undefined) {
            this.checkEnvironmentName(input.environment);
            const environment = this.environments.get(this.key(repo, input.environment)) ?? this.putEnvironment(repo, input.environment, {});
            deployment.environment = environment.name;
        }
        const logUrl = input.log_url ?? input.target_url ?? "";
        const status = this.addStatus(deployment, { state: input.state, description, log_url: logUrl, target_url: logUrl, environment_url: input.environment_url ?? "" }, creator);
        if (input.state === "success" && (input.auto_inactive ?? true)) {
            for (const prior of this.list(repo, { environment: deployment.environment })) {
                if (prior.id === deployment.id || prior.transient_environment || prior.production_environment) continue;
                if (!prior.statuses.some((s) => s.state === "success") || latestState(prior) === "inactive") continue;
                this.addStatus(prior, { state: "inactive", description: "", log_url: "", target_url: "", environment_url: "" }, creator);
            }
        }
        return status;
    }

    // --- environments ------------------------------------------------------------------------

    environment(repo: RepositoryRef, name: string): StoredEnvironment {
        const found = this.environments.get(this.key(repo, name));
        if (!found) throw notFound();
        return found;
    }

    putEnvironment(repo: RepositoryRef, name: string, input: EnvironmentInput | null): StoredEnvironment {
        this.checkEnvironmentName(name);
        const body = input ?? {};
        if (body.wait_timer !== undefined && (body.wait_timer < 0 || body.wait_timer > 43_200)) {
            throw new ApiError(422, "Validation Failed: wait_timer must be an integer between 0 and 43200");
        }
        const policy = body.deployment_branch_policy;
        if (policy && policy.protected_branches === policy.custom_branch_policies) {
            throw new ApiError(422, "Validation Failed: protected_branches and custom_branch_policies cannot have the same value");
        }
        if (body.reviewers && body.reviewers.length > 0) throw new ApiError(422, "Validation Failed: the stand-in knows no users or teams to make reviewers");
        const now = timestamp();
        const existing = this.environments.get(this.key(repo, name));
        const environment: StoredEnvironment = existing ?? {
            id: this.nextEnvironmentId++,
            repo: repo.fullName,
            name,
            wait_timer: 0,
            prevent_self_review: false,
            deployment_branch_policy: null,
            created_at: now,
            updated_at: now,
        };
        if (body.wait_timer !== undefined) environment.wait_timer = body.wait_timer;
        if (body.prevent_self_review !== undefined) environment.prevent_self_review = body.prevent_self_review;
        if (body.deployment_branch_policy !== undefined) environment.deployment_branch_policy = body.deployment_branch_policy;
        environment.updated_at = now;
        this.environments.set(this.key(repo, name), environment);
        return environment;
    }

    /** The environment goes; its deployments stay listed (they keep their environment's name). */
    deleteEnvironment(repo: RepositoryRef, name: string): void {
        this.environments.delete(this.key(repo, this.environment(repo, name).name));
    }

    private key(repo: RepositoryRef, name: string): string {
        return `${repo.fullName}\n${name.toLowerCase()}`;
    }

    private checkEnvironmentName(name: string): void {
        // GitHub: at most 255 characters; no control characters.
        if (name.length === 0 || name.length > 255 || /[\x00-\x1f\x7f]/.test(name)) throw new ApiError(422, `Validation Failed: ${JSON.stringify(name.slice(0, 40))} is not a valid environment name`);
    }

    private addStatus(deployment: StoredDeployment, fields: Pick<StoredStatus, "state" | "description" | "log_url" | "target_url" | "environment_url">, creator: Account): StoredStatus {
        const now = timestamp();
        const status: StoredStatus = { id: this.nextStatusId++, ...fields, environment: deployment.environment, created_at: now, updated_at: now, creator };
        deployment.statuses.push(status);
        deployment.updated_at = now;
        return status;
    }
}

export const latestState = (deployment: StoredDeployment): DeploymentState | undefined => deployment.statuses[deployment.statuses.length - 1]?.state;

/** A user as the API's simple-user schema has it. */
export function userView(account: Account, apiUrl: string) {
    const api = `${apiUrl}/users/${account.login}`;
    return {
        login: account.login,
        id: account.id,
        node_id: Buffer.from(`04:User${account.id}`).toString("base64"),
        avatar_url: `https://avatars.githubusercontent.com/u/${account.id}?v=4`,
        gravatar_id: "",
        url: api,
        html_url: `https://github.com/${account.login}`,
        followers_url: `${api}/followers`,
        following_url: `${api}/following{/other_user}`,
        gists_url: `${api}/gists{/gist_id}`,
        starred_url: `${api}/starred{/owner}{/repo}`,
        subscriptions_url: `${api}/subscriptions`,
        organizations_url: `${api}/orgs`,
        repos_url: `${api}/repos`,
        events_url: `${api}/events{/privacy}`,
        received_events_url: `${api}/received_events`,
        type: "User",
        user_view_type: "public",
        site_admin: false,
    };
}

const repoUrl = (repo: string, apiUrl: string) => `${apiUrl}/repos/${repo}`;

/** The deployment as GitHub's API shows it (the description's `deployment` schema). */
export function deploymentView(d: StoredDeployment, apiUrl: string) {
    const url = `${repoUrl(d.repo, apiUrl)}/deployments/${d.id}`;
    return {
        url,
        id: d.id,
        node_id: Buffer.from(`010:Deployment${d.id}`).toString("base64"),
        task: d.task,
        original_environment: d.original_environment,
        environment: d.environment,
        description: d.description,
        created_at: d.created_at,
        updated_at: d.updated_at,
        statuses_url: `${url}/statuses`,
        repository_url: repoUrl(d.repo, apiUrl),
        creator: userView(d.creator, apiUrl),
        sha: d.sha,
        ref: d.ref,
        payload: structuredClone(d.payload),
        transient_environment: d.transient_environment,
        production_environment: d.production_environment,
        performed_via_github_app: null,
    };
}

/** A status as GitHub's API shows it (the description's `deployment-status` schema). */
export function statusView(d: StoredDeployment, s: StoredStatus, apiUrl: string) {
    const deploymentUrl = `${repoUrl(d.repo, apiUrl)}/deployments/${d.id}`;
    return {
        url: `${deploymentUrl}/statuses/${s.id}`,
        id: s.id,
        node_id: Buffer.from(`016:DeploymentStatus${s.id}`).toString("base64"),
        state: s.state,
        creator: userView(s.creator, apiUrl),
        description: s.description,
        environment: s.environment,
        target_url: s.target_url,
        created_at: s.created_at,
        updated_at: s.updated_at,
        deployment_url: deploymentUrl,
        repository_url: repoUrl(d.repo, apiUrl),
        environment_url: s.environment_url,
        log_url: s.log_url,
        performed_via_github_app: null,
    };
}

/** The environment as GitHub's API shows it (the description's `environment` schema). */
export function environmentView(e: StoredEnvironment, apiUrl: string) {
    const rules: Array<Record<string, unknown>> = [];
    if (e.wait_timer > 0) rules.push({ id: e.id * 10 + 1, node_id: Buffer.from(`04:Gate${e.id * 10 + 1}`).toString("base64"), type: "wait_timer", wait_timer: e.wait_timer });
    if (e.deployment_branch_policy) rules.push({ id: e.id * 10 + 2, node_id: Buffer.from(`04:Gate${e.id * 10 + 2}`).toString("base64"), type: "branch_policy" });
    return {
        id: e.id,
        node_id: Buffer.from(`011:Environment${e.id}`).toString("base64"),
        name: e.name,
        url: `${repoUrl(e.repo, apiUrl)}/environments/${encodeURIComponent(e.name)}`,
        html_url: `https://github.com/${e.repo}/deployments/activity_log?environments_filter=${encodeURIComponent(e.name)}`,
        created_at: e.created_at,
        updated_at: e.updated_at,
        protection_rules: rules,
        deployment_branch_policy: e.deployment_branch_policy,
    };
}
