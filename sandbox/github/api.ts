/**
 * The repository-webhook operations, by the description's operationId. Each handler gets path
 * parameters, query and body that have passed the description's request schemas, and returns
 * status, body and headers that server.ts checks against the response schemas.
 */
import { deliveryDetail, deliverySummary, type DeliveryLog } from "./delivery-log";
import type { Dispatcher } from "./dispatcher";
import { notFound } from "./errors";
import { configView, hookView, type CreateHookInput, type HookConfigInput, type HookStore, type UpdateHookInput } from "./hook-store";
import type { Repositories } from "./repositories";

export interface ApiRequest {
    params: Record<string, string>;
    query: URLSearchParams;
    body: unknown;
    /** The request's URL on the stand-in, for Link headers. */
    url: URL;
}

export interface ApiResult {
    status: number;
    body?: unknown;
    headers?: Record<string, string>;
}

export interface ApiContext {
    repositories: Repositories;
    store: HookStore;
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
            const all = ctx.store.list(repo(params));
            const size = perPage(query);
            const page = Math.max(Number(query.get("page") ?? 1), 1);
            const last = Math.max(Math.ceil(all.length / size), 1);
            const rels: Record<string, Record<string, string>> = {};
            if (page < last) Object.assign(rels, { next: { page: String(page + 1) }, last: { page: String(last) } });
            if (page > 1) Object.assign(rels, { prev: { page: String(page - 1) }, first: { page: "1" } });
            return { status: 200, body: all.slice((page - 1) * size, page * size).map((h) => hookView(h, ctx.apiUrl())), headers: link(url, rels) };
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
    };
}
