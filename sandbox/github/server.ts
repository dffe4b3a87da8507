import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { deliver, type DeliveryRecord } from "./deliveries";
import { matchOperation } from "./openapi";
import { pingPayload, pushPayload, type RepositoryRef } from "./payloads";

export type { DeliveryRecord } from "./deliveries";

/**
 * A local stand-in for GitHub's repository-webhooks REST API and its deliveries, for the sandbox
 * and the end-to-end tests (GitHub itself is not reachable here). Every request and response is
 * checked against GitHub's OpenAPI description; a response that does not conform is a bug of the
 * stand-in and is recorded in validationErrors().
 */
export interface StoredHook {
    id: number;
    repo: string;
    name: "web";
    active: boolean;
    events: string[];
    config: { url?: string; content_type?: string; insecure_ssl?: string; secret?: string };
    created_at: string;
    updated_at: string;
    last_response: { code: number | null; status: string | null; message: string | null };
}

export interface GitHubStandinOptions {
    host?: string;
    port?: number;
    token: string;
    repositories: string[];
    log?: (line: string) => void;
}

export interface GitHubStandin {
    apiUrl: string;
    close(): Promise<void>;
    hooks(repo: string): StoredHook[];
    deliveries(repo?: string): DeliveryRecord[];
    deleteHookBehindPulumisBack(repo: string, id: number): void;
    sendPush(repo: string, opts: { ref: string; after: string; before?: string; headCommitMessage?: string }): Promise<DeliveryRecord[]>;
    sendRaw(repo: string, hookId: number, opts: { event: string; body: Buffer | string; headers?: Record<string, string>; signWith?: string | null }): Promise<DeliveryRecord>;
    validationErrors(): string[];
}

const documentation = "https://docs.github.com/rest/repos/webhooks";
const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

class HttpError extends Error {
    constructor(
        readonly status: number,
        message: string,
        readonly errors?: unknown[],
    ) {
        super(message);
    }
}

export async function startGitHubStandin(options: GitHubStandinOptions): Promise<GitHubStandin> {
    const log = options.log ?? (() => undefined);
    const repos = new Map<string, RepositoryRef>(options.repositories.map((full, i) => [full.toLowerCase(), { id: 100_000 + i, owner: full.split("/")[0], name: full.split("/")[1] }]));
    const hooks = new Map<number, StoredHook>();
    const deliveries: DeliveryRecord[] = [];
    const validationErrors: string[] = [];
    let nextHookId = 1;
    let apiUrl = "";

    const repoOf = (owner: string, repo: string) => {
        const found = repos.get(`${owner}/${repo}`.toLowerCase());
        if (!found) throw new HttpError(404, "Not Found");
        return found;
    };
    const repoKey = (r: RepositoryRef) => `${r.owner}/${r.name}`.toLowerCase();
    const hookOf = (r: RepositoryRef, id: string) => {
        const hook = hooks.get(Number(id));
        if (!hook || hook.repo !== repoKey(r)) throw new HttpError(404, "Not Found");
        return hook;
    };

    /** The hook as GitHub's API shows it: the secret masked. */
    const view = (hook: StoredHook) => {
        const base = `${apiUrl}/repos/${hook.repo}/hooks/${hook.id}`;
        const { secret, ...config } = hook.config;
        return {
            type: "Repository",
            id: hook.id,
            name: hook.name,
            active: hook.active,
            events: hook.events,
            config: secret ? { ...config, secret: "********" } : config,
            updated_at: hook.updated_at,
            created_at: hook.created_at,
            url: base,
            test_url: `${base}/test`,
            ping_url: `${base}/pings`,
            deliveries_url: `${base}/deliveries`,
            last_response: hook.last_response,
        };
    };

    const record = (hook: StoredHook, delivery: DeliveryRecord) => {
        deliveries.push(delivery);
        hook.last_response = { code: delivery.status_code || null, status: delivery.status_code >= 200 && delivery.status_code < 300 ? "active" : "failed", message: delivery.status };
        log(`delivery ${delivery.guid} ${delivery.event} -> ${delivery.url}: ${delivery.status_code} in ${delivery.duration}s`);
        return delivery;
    };

    const sendEvent = async (hook: StoredHook, event: string, payload: object, signWith?: string | null, headers?: Record<string, string>) => {
        const r = repos.get(hook.repo);
        const body = Buffer.from(JSON.stringify(payload));
        const secret = signWith === undefined ? (hook.config.secret ?? null) : signWith;
        return record(hook, await deliver({ hookId: hook.id, url: hook.config.url ?? "", contentType: hook.config.content_type ?? "form", secret, repositoryId: r?.id ?? 0 }, event, body, headers, payload));
    };

    const ping = (hook: StoredHook, r: RepositoryRef) => sendEvent(hook, "ping", pingPayload(r, view(hook)));

    const validateConfig = (config: StoredHook["config"] | undefined) => {
        if (!config?.url) throw new HttpError(422, "Validation Failed", [{ resource: "Hook", code: "custom", message: "Config must contain URL for webhooks" }]);
        if (!/^https?:\/\//.test(config.url)) throw new HttpError(422, "Validation Failed", [{ resource: "Hook", code: "custom", field: "config.url", message: "url is not a valid URL" }]);
    };

    type Body = Record<string, unknown> | undefined;
    const handlers: Record<string, (params: Record<string, string>, body: Body, query: URLSearchParams) => Promise<[number, unknown]>> = {
        "repos/list-webhooks": async (p) => {
            const r = repoOf(p.owner, p.repo);
            return [200, [...hooks.values()].filter((h) => h.repo === repoKey(r)).map(view)];
        },
        "repos/create-webhook": async (p, body) => {
            const r = repoOf(p.owner, p.repo);
            const config = (body?.config ?? {}) as StoredHook["config"];
            validateConfig(config);
            if ([...hooks.values()].some((h) => h.repo === repoKey(r) && h.config.url === config.url)) {
                throw new HttpError(422, "Validation Failed", [{ resource: "Hook", code: "custom", message: "Hook already exists on this repository" }]);
            }
            const hook: StoredHook = {
                id: nextHookId++,
                repo: repoKey(r),
                name: "web",
                active: (body?.active as boolean | undefined) ?? true,
                events: (body?.events as string[] | undefined) ?? ["push"],
                config: { content_type: "form", insecure_ssl: "0", ...config },
                created_at: now(),
                updated_at: now(),
                last_response: { code: null, status: "unused", message: null },
            };
            hooks.set(hook.id, hook);
            // Like GitHub: a ping right after creation, without holding the API response.
            if (hook.active) setImmediate(() => void ping(hook, r));
            return [201, view(hook)];
        },
        "repos/get-webhook": async (p) => [200, view(hookOf(repoOf(p.owner, p.repo), p.hook_id))],
        "repos/update-webhook": async (p, body) => {
            const hook = hookOf(repoOf(p.owner, p.repo), p.hook_id);
            if (body?.config !== undefined) {
                // GitHub replaces the whole config: a secret not sent again is dropped.
                const config = body.config as StoredHook["config"];
                validateConfig(config);
                hook.config = { content_type: "form", insecure_ssl: "0", ...config };
            }
            if (body?.events) hook.events = body.events as string[];
            if (body?.add_events) hook.events = [...new Set([...hook.events, ...(body.add_events as string[])])];
            if (body?.remove_events) hook.events = hook.events.filter((e) => !(body.remove_events as string[]).includes(e));
            if (body?.active !== undefined) hook.active = body.active as boolean;
            hook.updated_at = now();
            return [200, view(hook)];
        },
        "repos/delete-webhook": async (p) => {
            const hook = hookOf(repoOf(p.owner, p.repo), p.hook_id);
            hooks.delete(hook.id);
            return [204, undefined];
        },
        "repos/get-webhook-config-for-repo": async (p) => [200, view(hookOf(repoOf(p.owner, p.repo), p.hook_id)).config],
        "repos/update-webhook-config-for-repo": async (p, body) => {
            const hook = hookOf(repoOf(p.owner, p.repo), p.hook_id);
            // This endpoint merges: only the fields sent change.
            hook.config = { ...hook.config, ...(body as StoredHook["config"]) };
            validateConfig(hook.config);
            hook.updated_at = now();
            return [200, view(hook).config];
        },
        "repos/list-webhook-deliveries": async (p) => {
            const hook = hookOf(repoOf(p.owner, p.repo), p.hook_id);
            return [200, deliveries.filter((d) => d.hook_id === hook.id).reverse().map(summary)];
        },
        "repos/get-webhook-delivery": async (p) => {
            const hook = hookOf(repoOf(p.owner, p.repo), p.hook_id);
            const d = deliveries.find((x) => x.hook_id === hook.id && x.id === Number(p.delivery_id));
            if (!d) throw new HttpError(404, "Not Found");
            return [200, { ...summary(d), url: d.url, request: d.request, response: d.response }];
        },
        "repos/redeliver-webhook-delivery": async (p) => {
            const r = repoOf(p.owner, p.repo);
            const hook = hookOf(r, p.hook_id);
            const d = deliveries.find((x) => x.hook_id === hook.id && x.id === Number(p.delivery_id));
            if (!d) throw new HttpError(404, "Not Found");
            setImmediate(() => void sendEvent(hook, d.event, d.request.payload as object).then((again) => (again.redelivery = true)));
            return [202, {}];
        },
        "repos/ping-webhook": async (p) => {
            const r = repoOf(p.owner, p.repo);
            await ping(hookOf(r, p.hook_id), r);
            return [204, undefined];
        },
        "repos/test-push-webhook": async (p) => {
            const r = repoOf(p.owner, p.repo);
            const hook = hookOf(r, p.hook_id);
            if (hook.events.includes("push")) await sendEvent(hook, "push", pushPayload(r, { ref: "refs/heads/main", after: "0".repeat(40) }));
            return [204, undefined];
        },
    };

    const summary = (d: DeliveryRecord) => ({
        id: d.id,
        guid: d.guid,
        delivered_at: d.delivered_at,
        redelivery: d.redelivery,
        duration: d.duration,
        status: d.status,
        status_code: d.status_code,
        event: d.event,
        action: d.action,
        installation_id: d.installation_id,
        repository_id: d.repository_id,
    });

    const sendPush: GitHubStandin["sendPush"] = async (repo, opts) => {
        const r = repos.get(repo.toLowerCase());
        if (!r) throw new Error(`unknown repository ${repo}`);
        const targets = [...hooks.values()].filter((h) => h.repo === repoKey(r) && h.active && h.events.some((e) => e === "push" || e === "*"));
        return Promise.all(targets.map((hook) => sendEvent(hook, "push", pushPayload(r, opts))));
    };

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            void (async () => {
                const url = new URL(req.url ?? "/", "http://standin");
                const method = req.method ?? "GET";
                const send = (status: number, body: unknown) => {
                    res.writeHead(status, body === undefined ? {} : { "content-type": "application/json; charset=utf-8" });
                    res.end(body === undefined ? undefined : JSON.stringify(body));
                };
                try {
                    // Control surface for shells and the sandbox (not part of GitHub's API).
                    const control = /^\/_standin\/repos\/([^/]+)\/([^/]+)\/push$/.exec(url.pathname);
                    if (control && method === "POST") {
                        const body = JSON.parse(Buffer.concat(chunks).toString() || "{}") as { ref?: string; after?: string; before?: string };
                        if (!body.ref || !body.after) throw new HttpError(400, "ref and after are required");
                        return send(200, await sendPush(`${control[1]}/${control[2]}`, { ref: body.ref, after: body.after, before: body.before }));
                    }
                    if (url.pathname === "/_standin/deliveries" && method === "GET") return send(200, deliveries.map(summary));

                    const auth = req.headers.authorization ?? "";
                    if (auth !== `Bearer ${options.token}` && auth !== `token ${options.token}`) throw new HttpError(401, "Bad credentials");
                    const operation = matchOperation(method, url.pathname);
                    if (!operation) throw new HttpError(404, "Not Found");
                    let body: Body;
                    const raw = Buffer.concat(chunks).toString();
                    if (raw) {
                        try {
                            body = JSON.parse(raw) as Body;
                        } catch {
                            throw new HttpError(400, "Problems parsing JSON");
                        }
                    }
                    const problems = operation.validateRequest(url.searchParams, body);
                    if (problems.length > 0) throw new HttpError(422, "Invalid request.", problems.map((message) => ({ code: "invalid", message })));
                    const [status, result] = await handlers[operation.operationId](operation.params, body, url.searchParams);
                    const responseProblems = operation.validateResponse(status, result);
                    if (responseProblems.length > 0) {
                        validationErrors.push(...responseProblems);
                        log(`response does not match GitHub's description: ${responseProblems.join("; ")}`);
                    }
                    send(status, result);
                } catch (error) {
                    if (error instanceof HttpError) {
                        send(error.status, { message: error.message, documentation_url: documentation, ...(error.errors ? { errors: error.errors } : {}), status: String(error.status) });
                    } else {
                        log(`stand-in bug: ${(error as Error).stack ?? String(error)}`);
                        send(500, { message: "stand-in error", documentation_url: documentation });
                    }
                }
            })();
        });
    });

    await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
    const address = server.address() as AddressInfo;
    apiUrl = `http://${address.address.includes(":") ? `[${address.address}]` : address.address}:${address.port}`;
    log(`GitHub stand-in listening on ${apiUrl}`);

    return {
        apiUrl,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
        hooks: (repo) => [...hooks.values()].filter((h) => h.repo === repo.toLowerCase()).map((h) => structuredClone(h)),
        deliveries: (repo) => deliveries.filter((d) => repo === undefined || d.repository_id === repos.get(repo.toLowerCase())?.id),
        deleteHookBehindPulumisBack: (repo, id) => {
            const hook = hooks.get(id);
            if (hook?.repo === repo.toLowerCase()) hooks.delete(id);
        },
        sendPush,
        sendRaw: async (repo, hookId, opts) => {
            const hook = hooks.get(hookId);
            if (!hook || hook.repo !== repo.toLowerCase()) throw new Error(`no hook ${hookId} on ${repo}`);
            const r = repos.get(hook.repo);
            const body = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
            return record(hook, await deliver({ hookId, url: hook.config.url ?? "", contentType: "json", secret: opts.signWith === undefined ? (hook.config.secret ?? null) : opts.signWith, repositoryId: r?.id ?? 0 }, opts.event, body, opts.headers));
        },
        validationErrors: () => [...validationErrors],
    };
}
