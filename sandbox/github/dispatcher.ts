/**
 * Decides which hooks get an event and delivers it: pings, pushes (to active hooks subscribed to
 * `push` or `*`) and the hostile raw deliveries of sendRaw. Payloads it
 * builds are checked against the description first; every attempt goes to the delivery log and
 * the hook's last_response. close() aborts what is in flight and waits for it.
 */
import * as crypto from "node:crypto";
import { deliver, type DeliveryRecord, type DeliveryTarget, type DeliveryTls } from "./deliveries";
import type { DeliveryLog } from "./deliveryLog";
import { hookView, type HookStore, type StoredHook } from "./hookStore";
import { validateWebhook } from "./openapi";
import { pingPayload, pushPayload, zeroSha, type PushOptions } from "./payloads";
import type { Repositories, RepositoryRef } from "./repositories";

export interface RawDelivery {
    event: string;
    body: Buffer | string;
    headers?: Record<string, string>;
    /** undefined: the hook's secret; null: unsigned; a string: sign with that key instead. */
    signWith?: string | null;
}

export interface DispatcherOptions {
    repositories: Repositories;
    store: HookStore;
    deliveries: DeliveryLog;
    apiUrl: () => string;
    timeoutMs: number;
    /** CA and name resolution for https:// hooks (the sandbox's ACME certificates). */
    tls?: DeliveryTls;
    /** A payload or header the stand-in built does not fit GitHub's description. */
    onInvalid: (problems: string[]) => void;
    log: (line: string) => void;
}

export class Dispatcher {
    private readonly inFlight = new Set<Promise<unknown>>();
    private readonly closing = new AbortController();
    /** The last `after` pushed per repository and ref: the next push's default `before`. */
    private readonly heads = new Map<string, string>();

    constructor(private readonly o: DispatcherOptions) {}

    ping(hook: StoredHook): Promise<DeliveryRecord> {
        const repo = this.o.repositories.get(hook.repo);
        return this.send(hook, repo, "ping", pingPayload(repo, hookView(hook, this.o.apiUrl())), crypto.randomUUID());
    }

    push(repository: string, opts: PushOptions): Promise<DeliveryRecord[]> {
        const repo = this.o.repositories.get(repository);
        const headKey = `${repo.id} ${opts.ref}`;
        const payload = pushPayload(repo, { ...opts, before: opts.before ?? this.heads.get(headKey) ?? zeroSha });
        this.heads.set(headKey, opts.after);
        // One event, one GUID, whichever hooks receive it.
        const guid = crypto.randomUUID();
        const targets = this.o.store.list(repo).filter((h) => h.active && (h.events.includes("push") || h.events.includes("*")));
        return Promise.all(targets.map((hook) => this.send(hook, repo, "push", payload, guid)));
    }

    /**
     * The commit a ref points to as far as the pushes sent tell (a branch or tag name, or a full
     * ref); undefined when none was pushed or the last push deleted it.
     */
    head(repo: RepositoryRef, ref: string): string | undefined {
        for (const candidate of [ref, `refs/heads/${ref}`, `refs/tags/${ref}`]) {
            const sha = this.heads.get(`${repo.id} ${candidate}`);
            if (sha !== undefined) return sha === zeroSha ? undefined : sha;
        }
        return undefined;
    }

    /** Whatever a test wants sent to a hook's URL, bypassing every check: bytes as given. */
    raw(hook: StoredHook, opts: RawDelivery): Promise<DeliveryRecord> {
        const repo = this.o.repositories.get(hook.repo);
        const json = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
        const secret = opts.signWith === undefined ? (hook.config.secret ?? null) : opts.signWith;
        return this.track(hook, { ...this.target(hook, repo), contentType: "json" }, { event: opts.event, guid: crypto.randomUUID(), json, secret, headers: opts.headers });
    }

    /** Runs a delivery in the background (API calls answer before GitHub delivers). */
    background(delivery: () => Promise<unknown> | undefined): void {
        const started = new Promise<void>((resolve) => setImmediate(() => void Promise.resolve(delivery()).then(() => resolve(), () => resolve())));
        this.inFlight.add(started);
        void started.finally(() => this.inFlight.delete(started));
    }

    async close(): Promise<void> {
        this.closing.abort();
        while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    }

    private target(hook: StoredHook, repo: RepositoryRef): DeliveryTarget {
        return { hookId: hook.id, url: hook.config.url, contentType: hook.config.content_type, insecureSsl: hook.config.insecure_ssl, repositoryId: repo.id, repository: repo.fullName };
    }

    private send(hook: StoredHook, repo: RepositoryRef, event: string, payload: Record<string, unknown>, guid: string): Promise<DeliveryRecord> {
        const secret = hook.config.secret ?? null;
        return this.track(hook, this.target(hook, repo), { event, guid, json: Buffer.from(JSON.stringify(payload)), secret }, payload);
    }

    private track(hook: StoredHook, target: DeliveryTarget, request: { event: string; guid: string; json: Buffer; secret: string | null; headers?: Record<string, string> }, described?: Record<string, unknown>): Promise<DeliveryRecord> {
        const attempt = (async () => {
            const record = await deliver(target, { ...request, id: this.o.deliveries.nextId(), timeoutMs: this.o.timeoutMs, signal: this.closing.signal, tls: this.o.tls });
            if (described) {
                const problems = validateWebhook(request.event, described, record.request.headers, request.secret !== null);
                if (problems.length > 0) this.o.onInvalid(problems);
            }
            this.o.deliveries.add(record);
            this.o.store.recordResponse(hook, record.status_code, record.status);
            this.o.log(`delivery ${record.id} ${record.event} (${record.guid}) to hook ${hook.id} ${record.url}: ${record.status_code || record.status} in ${record.duration}s`);
            return record;
        })();
        this.inFlight.add(attempt);
        void attempt.finally(() => this.inFlight.delete(attempt)).catch(() => undefined);
        return attempt;
    }
}
