/**
 * The stand-in's own HTTP surface under /_standin/ (not GitHub's API, not checked against its
 * description, no token): lets a shell drive `npm run sandbox`.
 *   POST /_standin/repos/OWNER/NAME/push  {"ref": "refs/heads/gh-pages", "after": "<sha>", "before"?, "headCommitMessage"?}
 *        -> the delivery records, one per active hook subscribed to push; with ?format=line, one
 *           text line per delivery instead: "delivery GUID to URL: STATUS_CODE STATUS"
 *   GET  /_standin/deliveries[?repo=OWNER/NAME]  -> every delivery record, oldest first
 *   GET  /_standin/requests  -> every API request (method, path, operation, status, which token), oldest first
 *   PUT  /_standin/fault  {"mode": "none" | "500" | "hang"}  -> the deployments, statuses and
 *        environments endpoints answer normally, answer 500, or never answer
 */
import type { DeliveryRecord } from "./deliveries";
import type { PushOptions } from "./payloads";

export const controlPrefix = "/_standin/";

/**
 * What the deployments, statuses and environments endpoints do for a test: answer (none), answer
 * 500 to everything (500), or never answer (hang: the connection stays open until the client gives
 * up or the stand-in closes).
 */
export type Fault = "none" | "500" | "hang";

/** One API request as the stand-in saw it (never its body or token). */
export interface ApiRequestRecord {
    at: string;
    method: string;
    path: string;
    /** The operation matched, if any. */
    operationId?: string;
    /** 0 when the stand-in never answered (the hang fault). */
    status: number;
    /** Which token authenticated it: the main one, the deployments one, or none. */
    token: "main" | "deployments" | null;
}

export interface ControlTarget {
    sendPush(repo: string, opts: PushOptions): Promise<DeliveryRecord[]>;
    deliveries(repo?: string): DeliveryRecord[];
    knows(repo: string): boolean;
    apiRequests(): ApiRequestRecord[];
    setFault(fault: Fault): void;
}

export interface ControlResult {
    status: number;
    body?: unknown;
    /** A plain-text answer, for a person at a shell. */
    text?: string;
}

const deliveryLine = (record: DeliveryRecord) => `delivery ${record.guid} to ${record.url}: ${record.status_code} ${record.status}\n`;

const sha = /^[0-9a-f]{40}$/;

export async function control(target: ControlTarget, method: string, url: URL, rawBody: string): Promise<ControlResult> {
    const push = /^\/_standin\/repos\/([^/]+)\/([^/]+)\/push$/.exec(url.pathname);
    if (push && method === "POST") {
        const repo = `${decodeURIComponent(push[1])}/${decodeURIComponent(push[2])}`;
        if (!target.knows(repo)) return { status: 404, body: { message: `no repository ${repo} here` } };
        let body: Partial<Record<keyof PushOptions, unknown>>;
        try {
            body = JSON.parse(rawBody || "{}") as typeof body;
        } catch {
            return { status: 400, body: { message: "the body is not JSON" } };
        }
        const { ref, after, before, headCommitMessage } = body;
        if (typeof ref !== "string" || !ref.startsWith("refs/")) return { status: 400, body: { message: 'ref must be a full ref, e.g. "refs/heads/gh-pages"' } };
        if (typeof after !== "string" || !sha.test(after)) return { status: 400, body: { message: "after must be a 40-hex commit id" } };
        if (before !== undefined && (typeof before !== "string" || !sha.test(before))) return { status: 400, body: { message: "before must be a 40-hex commit id" } };
        if (headCommitMessage !== undefined && typeof headCommitMessage !== "string") return { status: 400, body: { message: "headCommitMessage must be a string" } };
        const records = await target.sendPush(repo, { ref, after, before, headCommitMessage });
        if (url.searchParams.get("format") === "line") return { status: 200, text: records.length ? records.map(deliveryLine).join("") : "no hook subscribed to push\n" };
        return { status: 200, body: records };
    }
    if (url.pathname === "/_standin/deliveries" && method === "GET") {
        const repo = url.searchParams.get("repo") ?? undefined;
        return { status: 200, body: target.deliveries(repo) };
    }
    if (url.pathname === "/_standin/requests" && method === "GET") return { status: 200, body: target.apiRequests() };
    if (url.pathname === "/_standin/fault" && method === "PUT") {
        let body: { mode?: unknown };
        try {
            body = JSON.parse(rawBody || "{}") as typeof body;
        } catch {
            return { status: 400, body: { message: "the body is not JSON" } };
        }
        if (body.mode !== "none" && body.mode !== "500" && body.mode !== "hang") return { status: 400, body: { message: 'mode must be "none", "500" or "hang"' } };
        target.setFault(body.mode);
        return { status: 200, body: { mode: body.mode } };
    }
    return { status: 404, body: { message: `no ${method} ${url.pathname} on the stand-in's control surface` } };
}
