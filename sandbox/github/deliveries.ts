import * as crypto from "node:crypto";

/** One attempt to deliver an event, as GitHub's delivery log records it. */
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
    hook_id: number;
    url: string;
    request: { headers: Record<string, string>; payload: unknown };
    response: { headers: Record<string, string>; payload: string | null };
}

let nextDeliveryId = 1_000_000;

export function signatures(secret: string, body: Buffer): Record<string, string> {
    return {
        "X-Hub-Signature": `sha1=${crypto.createHmac("sha1", secret).update(body).digest("hex")}`,
        "X-Hub-Signature-256": `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`,
    };
}

export interface DeliveryTarget {
    hookId: number;
    url: string;
    contentType: string;
    /** null: send unsigned. */
    secret: string | null;
    repositoryId: number;
}

/**
 * POSTs one event to a hook URL like GitHub does: its headers, HMAC signatures of the exact body,
 * a 10 s timeout; a connection failure is recorded with status code 0.
 */
export async function deliver(target: DeliveryTarget, event: string, body: Buffer, extraHeaders: Record<string, string> = {}, payload: unknown = undefined): Promise<DeliveryRecord> {
    const guid = crypto.randomUUID();
    const form = target.contentType === "form";
    const sent = form ? Buffer.from(`payload=${encodeURIComponent(body.toString())}`) : body;
    const headers: Record<string, string> = {
        "Content-Type": form ? "application/x-www-form-urlencoded" : "application/json",
        "User-Agent": "GitHub-Hookshot/5fa7a05",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": guid,
        "X-GitHub-Hook-ID": String(target.hookId),
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-GitHub-Hook-Installation-Target-ID": String(target.repositoryId),
        ...(target.secret === null ? {} : signatures(target.secret, sent)),
        ...extraHeaders,
    };
    const started = performance.now();
    let statusCode = 0;
    let status = "failed to connect";
    let responseBody: string | null = null;
    const responseHeaders: Record<string, string> = {};
    try {
        const response = await fetch(target.url, { method: "POST", headers, body: sent, signal: AbortSignal.timeout(10_000), redirect: "manual" });
        statusCode = response.status;
        status = response.ok ? "OK" : `Invalid HTTP Response: ${response.status}`;
        response.headers.forEach((value, key) => (responseHeaders[key] = value));
        responseBody = (await response.text()).slice(0, 2000);
    } catch (error) {
        status = (error as Error).name === "TimeoutError" ? "timed out" : `failed to connect: ${(error as Error).message}`;
    }
    return {
        id: nextDeliveryId++,
        guid,
        delivered_at: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        redelivery: false,
        duration: Math.round(performance.now() - started) / 1000,
        status,
        status_code: statusCode,
        event,
        action: null,
        installation_id: null,
        repository_id: target.repositoryId,
        hook_id: target.hookId,
        url: target.url,
        request: { headers, payload: payload ?? tryParse(body) },
        response: { headers: responseHeaders, payload: responseBody },
    };
}

function tryParse(body: Buffer): unknown {
    try {
        return JSON.parse(body.toString());
    } catch {
        return body.toString();
    }
}
