/**
 * Sends one webhook delivery the way GitHub's Hookshot does: a POST of the payload to the hook's
 * URL with GitHub's headers, HMAC signatures of the exact bytes sent (X-Hub-Signature with SHA-1,
 * X-Hub-Signature-256 with @octokit/webhooks-methods' sign), no redirects followed, a 10 s limit;
 * and records the attempt like GitHub's delivery log (status 0 when no HTTP answer came).
 */
import * as crypto from "node:crypto";
import * as http from "node:http";
import * as https from "node:https";
import type * as dns from "node:dns";
import type * as net from "node:net";
import { timestamp } from "./hookStore";
import { webhooksMethods } from "./webhooksMethods";

/** One attempt to deliver an event: the description's hook-delivery, plus what a test wants. */
export interface DeliveryRecord {
    id: number;
    guid: string;
    delivered_at: string;
    redelivery: boolean;
    duration: number;
    status: string;
    status_code: number;
    event: string;
    action: string | null;
    installation_id: number | null;
    repository_id: number | null;
    url: string;
    request: { headers: Record<string, string>; payload: Record<string, unknown> | null };
    response: { headers: Record<string, string>; payload: string | null };
    hook_id: number;
    /** The repository's full name. */
    repository: string;
}

export interface DeliveryTarget {
    hookId: number;
    url: string;
    contentType: "json" | "form";
    insecureSsl: "0" | "1";
    repositoryId: number;
    repository: string;
}

/**
 * How deliveries reach https:// hooks in a sandbox: the CA to verify the chain against (GitHub
 * verifies against the public roots; the sandbox's certificates chain to pebble's root) and the
 * address each server name resolves to (the names exist only in pebble-challtestsrv's DNS).
 */
export interface DeliveryTls {
    ca?: string;
    hosts?: Record<string, string>;
}

export interface DeliveryRequest {
    id: number;
    event: string;
    /** The event's GUID, shared by every hook that gets the event. */
    guid: string;
    /** The JSON payload as bytes; form-encoded as payload=... when the hook asks for "form". */
    json: Buffer;
    /** Key for the signature headers; null sends none. */
    secret: string | null;
    /** Added last, replacing GitHub's header of the same name (any case). */
    headers?: Record<string, string>;
    timeoutMs: number;
    /** Aborts the attempt (the stand-in is closing). */
    signal?: AbortSignal;
    tls?: DeliveryTls;
}

export const hookshotUserAgent = "GitHub-Hookshot/5a1c0ef";
/** How much of a receiver's answer the log keeps. */
export const responseBodyLimit = 2048;

/** application/x-www-form-urlencoded as GitHub's form deliveries: payload=<JSON>, '*' escaped too. */
export function formEncode(json: string): string {
    return `payload=${encodeURIComponent(json)
        .replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
        .replace(/%20/g, "+")}`;
}

export async function signatureHeaders(secret: string, body: Buffer): Promise<Record<string, string>> {
    const text = body.toString("utf8");
    // sign() takes a string; bytes that are not UTF-8 (only sendRaw makes them) are signed directly.
    const sha256 = Buffer.from(text, "utf8").equals(body) ? await (await webhooksMethods()).sign(secret, text) : `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`;
    return { "X-Hub-Signature": `sha1=${crypto.createHmac("sha1", secret).update(body).digest("hex")}`, "X-Hub-Signature-256": sha256 };
}

function withHeaders(base: Record<string, string>, extra: Record<string, string>): Record<string, string> {
    const out = { ...base };
    for (const [name, value] of Object.entries(extra)) {
        for (const key of Object.keys(out)) if (key.toLowerCase() === name.toLowerCase()) delete out[key];
        out[name] = value;
    }
    return out;
}

/** The headers GitHub sends, in the order its delivery log shows them. */
export async function deliveryHeaders(target: DeliveryTarget, request: DeliveryRequest, body: Buffer): Promise<Record<string, string>> {
    const headers: Record<string, string> = {
        Accept: "*/*",
        "content-type": target.contentType === "form" ? "application/x-www-form-urlencoded" : "application/json",
        "User-Agent": hookshotUserAgent,
        "X-GitHub-Delivery": request.guid,
        "X-GitHub-Event": request.event,
        "X-GitHub-Hook-ID": String(target.hookId),
        "X-GitHub-Hook-Installation-Target-ID": String(target.repositoryId),
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        ...(request.secret ? await signatureHeaders(request.secret, body) : {}),
    };
    return withHeaders(headers, request.headers ?? {});
}

interface Outcome {
    statusCode: number;
    status: string;
    headers: Record<string, string>;
    body: string | null;
}

function post(url: URL, headers: Record<string, string>, body: Buffer, insecureSsl: boolean, timeoutMs: number, signal?: AbortSignal, tls?: DeliveryTls): Promise<Outcome> {
    return new Promise((resolve) => {
        const failed = (status: string) => resolve({ statusCode: 0, status, headers: {}, body: null });
        const client = url.protocol === "https:" ? https : http;
        const address = tls?.hosts?.[url.hostname];
        const lookup: net.LookupFunction | undefined = address
            ? (_host, options, callback) => (options.all ? (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, [{ address, family: 4 }]) : callback(null, address, 4))
            : undefined;
        const req = client.request(url, { method: "POST", headers: { ...headers, "Content-Length": String(body.length) }, agent: false, rejectUnauthorized: !insecureSsl, ...(tls?.ca ? { ca: tls.ca } : {}), ...(lookup ? { lookup } : {}) });
        let settled = false;
        const finish = (outcome: () => void) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            signal?.removeEventListener("abort", onAbort);
            outcome();
            req.destroy();
        };
        const timer = setTimeout(() => finish(() => failed("timed out")), timeoutMs);
        const onAbort = () => finish(() => failed("stand-in closed"));
        signal?.addEventListener("abort", onAbort);
        req.on("error", (error) => finish(() => failed(`failed to connect to host: ${error.message}`)));
        req.on("response", (res) => {
            const chunks: Buffer[] = [];
            let kept = 0;
            res.on("data", (chunk: Buffer) => {
                if (kept < responseBodyLimit) chunks.push(chunk);
                kept += chunk.length;
            });
            res.on("error", () => undefined);
            res.on("end", () =>
                finish(() => {
                    const code = res.statusCode ?? 0;
                    const responseHeaders = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v)]));
                    resolve({ statusCode: code, status: code >= 200 && code < 300 ? "OK" : `Invalid HTTP Response: ${code}`, headers: responseHeaders, body: Buffer.concat(chunks).toString("utf8").slice(0, responseBodyLimit) });
                }),
            );
        });
        if (signal?.aborted) onAbort();
        else req.end(body);
    });
}

const parsedPayload = (json: Buffer): Record<string, unknown> | null => {
    try {
        const value: unknown = JSON.parse(json.toString("utf8"));
        return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
    } catch {
        return null;
    }
};

export async function deliver(target: DeliveryTarget, request: DeliveryRequest): Promise<DeliveryRecord> {
    const body = target.contentType === "form" ? Buffer.from(formEncode(request.json.toString("utf8"))) : request.json;
    const headers = await deliveryHeaders(target, request, body);
    const payload = parsedPayload(request.json);
    const deliveredAt = timestamp();
    const started = performance.now();
    let url: URL | undefined;
    try {
        url = new URL(target.url);
    } catch {
        url = undefined;
    }
    const outcome = url ? await post(url, headers, body, target.insecureSsl === "1", request.timeoutMs, request.signal, request.tls) : { statusCode: 0, status: "invalid URL", headers: {}, body: null };
    return {
        id: request.id,
        guid: request.guid,
        delivered_at: deliveredAt,
        redelivery: false,
        duration: Math.round(performance.now() - started) / 1000,
        status: outcome.status,
        status_code: outcome.statusCode,
        event: request.event,
        action: typeof payload?.action === "string" ? payload.action : null,
        installation_id: null,
        repository_id: target.repositoryId,
        url: target.url,
        request: { headers, payload },
        response: { headers: outcome.headers, payload: outcome.body },
        hook_id: target.hookId,
        repository: target.repository,
    };
}
