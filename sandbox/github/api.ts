/**
 * The repository-webhook, deployments, deployment statuses and environments operations, by the
 * description's operationId. Each handler gets path
 * parameters, query and body that have passed the description's request schemas, and returns
 * status, body and headers that server.ts checks against the response schemas.
 */
import { deliveryDetail, deliverySummary, type DeliveryLog } from "./deliveryLog";
import { deploymentView, environmentView, statusView, type Account, type CreateDeploymentInput, type CreateStatusInput, type DeploymentStore, type EnvironmentInput } from "./deploymentStore";
import type { Dispatcher } from "./dispatcher";
import { notFound } from "./errors";
import { configView, hookView, type CreateHookInput, type HookConfigInput, type HookStore, type UpdateHookInput } from "./hookStore";
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
    deliveries: DeliveryLog;
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
    const delivery = (p: Record<string, string>) => {
        const found = ctx.deliveries.find(hook(p).id, Number(p.delivery_id));
        if (!found) throw notFound();
        return found;
    };
    // The request schemas have checked these bodies' shapes (server.ts) before a handler runs.
    return {
        "repos/list-webhooks": ({ params, query, url }) => {
            const { items, headers } = paged(ctx.store.list(repo(params)), query, url);
            return { status: 200, body: items.map((h) => hookView(h, ctx.apiUrl())), headers };
        },
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
        "repos/get-webhook-config-for-repo": ({ params }) => ({ status: 200, body: configView(hook(params).config) }),
        "repos/update-webhook-config-for-repo": ({ params, body }) => ({ status: 200, body: configView(ctx.store.updateConfig(repo(params), Number(params.hook_id), body as HookConfigInput | null).config) }),
        "repos/list-webhook-deliveries": ({ params, query, url }) => {
            const status = query.get("status");
            const { items, nextCursor } = ctx.deliveries.page(hook(params).id, { perPage: perPage(query), cursor: query.get("cursor") ?? undefined, status: status === "success" || status === "failure" ? status : undefined });
            return { status: 200, body: items.map(deliverySummary), headers: nextCursor ? link(url, { next: { cursor: nextCursor } }) : {} };
        },
        "repos/get-webhook-delivery": ({ params }) => ({ status: 200, body: deliveryDetail(delivery(params)) }),
        "repos/redeliver-webhook-delivery": ({ params }) => {
            const original = delivery(params);
            const target = hook(params);
            ctx.dispatcher.background(() => ctx.dispatcher.redeliver(target, original));
            return { status: 202, body: {} };
        },
        "repos/ping-webhook": ({ params }) => {
            const target = hook(params);
            ctx.dispatcher.background(() => ctx.dispatcher.ping(target));
            return { status: 204 };
        },
        "repos/test-push-webhook": ({ params }) => {
            const target = hook(params);
            ctx.dispatcher.background(() => ctx.dispatcher.testPush(target));
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
        "repos/get-deployment": ({ params }) => ({ status: 200, body: deploymentView(ctx.deployments.get(repo(params), Number(params.deployment_id)), ctx.apiUrl()) }),
        "repos/delete-deployment": ({ params }) => {
            ctx.deployments.delete(repo(params), Number(params.deployment_id));
            return { status: 204 };
        },
        "repos/list-deployment-statuses": ({ params, query, url }) => {
            const r = repo(params);
            const deployment = ctx.deployments.get(r, Number(params.deployment_id));
            const { items, headers } = paged(ctx.deployments.statuses(r, deployment.id), query, url);
            return { status: 200, body: items.map((s) => statusView(deployment, s, ctx.apiUrl())), headers };
        },
        "repos/create-deployment-status": ({ params, body, account }) => {
            const r = repo(params);
            const created = ctx.deployments.createStatus(r, Number(params.deployment_id), body as CreateStatusInput, account);
            const view = statusView(ctx.deployments.get(r, Number(params.deployment_id)), created, ctx.apiUrl());
            return { status: 201, body: view, headers: { Location: view.url } };
        },
        "repos/get-deployment-status": ({ params }) => {
            const r = repo(params);
            const deployment = ctx.deployments.get(r, Number(params.deployment_id));
            return { status: 200, body: statusView(deployment, ctx.deployments.status(r, deployment.id, Number(params.status_id)), ctx.apiUrl()) };
        },
        "repos/get-all-environments": ({ params, query, url }) => {
            const all = ctx.deployments.environmentsOf(repo(params));
            const { items, headers } = paged(all, query, url);
            return { status: 200, body: { total_count: all.length, environments: items.map((e) => environmentView(e, ctx.apiUrl())) }, headers };
        },
        "repos/get-environment": ({ params }) => ({ status: 200, body: environmentView(ctx.deployments.environment(repo(params), params.environment_name), ctx.apiUrl()) }),
        "repos/create-or-update-environment": ({ params, body }) => ({ status: 200, body: environmentView(ctx.deployments.putEnvironment(repo(params), params.environment_name, (body ?? null) as EnvironmentInput | null), ctx.apiUrl()) }),
        "repos/delete-an-environment": ({ params }) => {
            ctx.deployments.deleteEnvironment(repo(params), params.environment_name);
            return { status: 204 };
        },
    };
}
