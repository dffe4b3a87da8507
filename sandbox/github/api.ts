/**
 * The operations selfpages calls (extractOpenapi.ts's calledOperations), by the description's
 * operationId. Each handler gets path parameters, query and body that have passed the
 * description's request schemas, and returns status, body and headers that server.ts checks
 * against the response schemas.
 */
import { deploymentView, environmentView, statusView, type Account, type CreateDeploymentInput, type CreateStatusInput, type DeploymentStore, type EnvironmentInput } from "./deploymentStore";
import type { Dispatcher } from "./dispatcher";
import { notFound } from "./errors";
import { hookView, type CreateHookInput, type HookStore, type UpdateHookInput } from "./hookStore";
import type { Repositories } from "./repositories";

export interface ApiRequest {
    params: Record<string, string>;
    query: URLSearchParams;
    body: unknown;
    /** The request's URL on the stand-in, for Link headers. */
    url: URL;
    /** Whose token authenticated the request. */
    account: Account;
}

export interface ApiResult {
    status: number;
    body?: unknown;
    headers?: Record<string, string>;
}

export interface ApiContext {
    repositories: Repositories;
    store: HookStore;
    deployments: DeploymentStore;
    dispatcher: Dispatcher;
    apiUrl: () => string;
}

const perPage = (query: URLSearchParams) => Math.min(Math.max(Number(query.get("per_page") ?? 30), 1), 100);

function link(url: URL, rels: Record<string, Record<string, string>>): Record<string, string> {
    const parts = Object.entries(rels).map(([rel, params]) => {
        const target = new URL(url);
        for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
        return `<${target.toString()}>; rel="${rel}"`;
    });
    return parts.length > 0 ? { Link: parts.join(", ") } : {};
}

/** One page of a list, with GitHub's Link header (page-number pagination). */
function paged<T>(all: T[], query: URLSearchParams, url: URL): { items: T[]; headers: Record<string, string> } {
    const size = perPage(query);
    const page = Math.max(Number(query.get("page") ?? 1), 1);
    const last = Math.max(Math.ceil(all.length / size), 1);
    const rels: Record<string, Record<string, string>> = {};
    if (page < last) Object.assign(rels, { next: { page: String(page + 1) }, last: { page: String(last) } });
    if (page > 1) Object.assign(rels, { prev: { page: String(page - 1) }, first: { page: "1" } });
    return { items: all.slice((page - 1) * size, page * size), headers: link(url, rels) };
}

export function apiHandlers(ctx: ApiContext): Record<string, (req: ApiRequest) => ApiResult> {
    const repo = (p: Record<string, string>) => {
        const found = ctx.repositories.find(`${p.owner}/${p.repo}`);
        if (!found) throw notFound();
        return found;
    };
    const hook = (p: Record<string, string>) => ctx.store.get(repo(p), Number(p.hook_id));
    // The request schemas have checked these bodies' shapes (server.ts) before a handler runs.
    return {
        "repos/create-webhook": ({ params, body }) => {
            const created = ctx.store.create(repo(params), body as CreateHookInput | null);
            // Like GitHub, the ping follows the API's answer.
            if (created.active) ctx.dispatcher.background(() => ctx.dispatcher.ping(created));
            const view = hookView(created, ctx.apiUrl());
            return { status: 201, body: view, headers: { Location: String(view.url) } };
        },
        "repos/get-webhook": ({ params }) => ({ status: 200, body: hookView(hook(params), ctx.apiUrl()) }),
        "repos/update-webhook": ({ params, body }) => ({ status: 200, body: hookView(ctx.store.update(repo(params), Number(params.hook_id), body as UpdateHookInput), ctx.apiUrl()) }),
        "repos/delete-webhook": ({ params }) => {
            ctx.store.delete(repo(params), Number(params.hook_id));
            return { status: 204 };
        },
        "repos/list-deployments": ({ params, query, url }) => {
            const filter = Object.fromEntries((["sha", "ref", "task", "environment"] as const).flatMap((k) => (query.get(k) === null ? [] : [[k, query.get(k) as string]])));
            const { items, headers } = paged(ctx.deployments.list(repo(params), filter), query, url);
            return { status: 200, body: items.map((d) => deploymentView(d, ctx.apiUrl())), headers };
        },
        "repos/create-deployment": ({ params, body, account }) => {
            const created = ctx.deployments.create(repo(params), body as CreateDeploymentInput, account);
            const view = deploymentView(created, ctx.apiUrl());
            return { status: 201, body: view, headers: { Location: view.url } };
        },
        "repos/create-deployment-status": ({ params, body, account }) => {
            const r = repo(params);
            const created = ctx.deployments.createStatus(r, Number(params.deployment_id), body as CreateStatusInput, account);
            const view = statusView(ctx.deployments.get(r, Number(params.deployment_id)), created, ctx.apiUrl());
            return { status: 201, body: view, headers: { Location: view.url } };
        },
        "repos/get-environment": ({ params }) => ({ status: 200, body: environmentView(ctx.deployments.environment(repo(params), params.environment_name), ctx.apiUrl()) }),
        "repos/create-or-update-environment": ({ params, body }) => ({ status: 200, body: environmentView(ctx.deployments.putEnvironment(repo(params), params.environment_name, (body ?? null) as EnvironmentInput | null), ctx.apiUrl()) }),
        "repos/delete-an-environment": ({ params }) => {
            ctx.deployments.deleteEnvironment(repo(params), params.environment_name);
            return { status: 204 };
        },
    };
}
