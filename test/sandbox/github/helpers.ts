/** Shared by the stand-in's tests: a webhook receiver on loopback and a small API client. */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
    method: string;
    path: string;
    headers: http.IncomingHttpHeaders;
    body: Buffer;
}

export interface Reply {
    status: number;
    body?: string;
    /** Answer only after this long (to exercise the delivery timeout). */
    delayMs?: number;
}

export interface Receiver {
    url: string;
    received: Received[];
    /** How the receiver answers from now on (default 202 "accepted"). */
    reply: (fn: (r: Received) => Reply) => void;
    close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
    const received: Received[] = [];
    let answer: (r: Received) => Reply = () => ({ status: 202, body: "accepted" });
    const timers = new Set<NodeJS.Timeout>();
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const r: Received = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) };
            received.push(r);
            const { status, body, delayMs } = answer(r);
            const send = () => res.writeHead(status, { "content-type": "text/plain" }).end(body ?? "");
            if (!delayMs) {
                send();
                return;
            }
            const timer = setTimeout(() => {
                timers.delete(timer);
                send();
            }, delayMs);
            timers.add(timer);
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`,
        received,
        reply: (fn) => (answer = fn),
        close: () =>
            new Promise<void>((resolve) => {
                for (const t of timers) clearTimeout(t);
                server.close(() => resolve());
                server.closeAllConnections();
            }),
    };
}

export interface ApiAnswer {
    status: number;
    headers: Headers;
    // Answers are JSON of several shapes; tests index into them and assert on what they find.
    json: any;
    text: string;
}

/** Calls the stand-in like a GitHub client (the headers @octokit and the Pulumi component send). */
export function apiClient(apiUrl: string, token: string) {
    return async (method: string, path: string, body?: unknown, opts: { authorization?: string | null; rawBody?: string } = {}): Promise<ApiAnswer> => {
        const authorization = opts.authorization === undefined ? `Bearer ${token}` : opts.authorization;
        const response = await fetch(`${apiUrl}${path}`, {
            method,
            headers: {
                accept: "application/vnd.github+json",
                "x-github-api-version": "2022-11-28",
                ...(authorization === null ? {} : { authorization }),
                ...(body === undefined && opts.rawBody === undefined ? {} : { "content-type": "application/json" }),
            },
            body: opts.rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
        });
        const text = await response.text();
        return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as unknown) : undefined, text };
    };
}

export const sha = (c: string) => c.repeat(40).slice(0, 40);
