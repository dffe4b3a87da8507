/**
 * The repository hooks a stand-in holds, with GitHub's rules for creating and updating them
 * (the checks its JSON schema does not express) and the API's view of a hook, secret masked.
 * Bodies reaching this module have passed the description's request schemas already.
 */
import { notFound, validationFailed, type FieldError } from "./errors";
import type { RepositoryRef } from "./repositories";

export interface HookConfig {
    url: string;
    content_type: "json" | "form";
    insecure_ssl: "0" | "1";
    /** Kept in the clear here; the API shows "********" instead. */
    secret?: string;
}

export interface StoredHook {
    id: number;
    /** The repository's full name as the stand-in was given it ("Owner/Name"). */
    repo: string;
    name: "web";
    active: boolean;
    events: string[];
    config: HookConfig;
    created_at: string;
    updated_at: string;
    last_response: { code: number | null; status: string | null; message: string | null };
}

export interface HookConfigInput {
    url?: string;
    content_type?: string;
    secret?: string;
    insecure_ssl?: string | number;
}

export interface CreateHookInput {
    name?: string;
    config?: HookConfigInput;
    events?: string[];
    active?: boolean;
}

export interface UpdateHookInput {
    config?: HookConfigInput;
    events?: string[];
    add_events?: string[];
    remove_events?: string[];
    active?: boolean;
}

/** GitHub's timestamps: ISO 8601 to the second. */
export const timestamp = (date = new Date()): string => date.toISOString().replace(/\.\d{3}Z$/, "Z");

const hookError = (error: Omit<FieldError, "resource">): FieldError => ({ resource: "Hook", ...error });

function checkedConfig(input: HookConfigInput | undefined): HookConfig {
    if (!input?.url) throw validationFailed(hookError({ code: "custom", message: "Config must contain URL for webhooks" }));
    if (!/^https?:\/\//i.test(input.url)) throw validationFailed(hookError({ code: "custom", field: "url", message: "url must use http or https" }));
    const contentType = input.content_type ?? "form";
    if (contentType !== "json" && contentType !== "form") throw validationFailed(hookError({ code: "invalid", field: "content_type", message: "content_type must be json or form" }));
    const insecureSsl = String(input.insecure_ssl ?? "0");
    if (insecureSsl !== "0" && insecureSsl !== "1") throw validationFailed(hookError({ code: "invalid", field: "insecure_ssl", message: "insecure_ssl must be 0 or 1" }));
    return { url: input.url, content_type: contentType, insecure_ssl: insecureSsl, ...(input.secret ? { secret: input.secret } : {}) };
}

function checkedEvents(events: string[]): string[] {
    if (events.some((e) => !/^(\*|[a-z_]+)$/.test(e))) throw validationFailed(hookError({ code: "invalid", field: "events", message: "events must be event names or *" }));
    return [...new Set(events)];
}

/** "You can create up to 20 webhooks for each event on each installation target" (GitHub's docs). */
export const hooksPerEvent = 20;

export class HookStore {
    private readonly hooks = new Map<number, StoredHook>();
    private nextId = 500_000_001;

    /** Hooks of a repository, oldest first, as GitHub lists them. */
    list(repo: RepositoryRef): StoredHook[] {
        return [...this.hooks.values()].filter((h) => h.repo === repo.fullName);
    }

    get(repo: RepositoryRef, id: number): StoredHook {
        const hook = this.hooks.get(id);
        if (!hook || hook.repo !== repo.fullName) throw notFound();
        return hook;
    }

    create(repo: RepositoryRef, input: CreateHookInput | null): StoredHook {
        const body = input ?? {};
        if (body.name !== undefined && body.name !== "web") throw validationFailed(hookError({ code: "custom", field: "name", message: 'name must be "web"' }));
        const config = checkedConfig(body.config);
        const events = checkedEvents(body.events ?? ["push"]);
        this.refuseDuplicate(repo, config.url, events);
        this.refuseOverLimit(repo, events);
        const now = timestamp();
        const hook: StoredHook = {
            id: this.nextId++,
            repo: repo.fullName,
            name: "web",
            active: body.active ?? true,
            events,
            config,
            created_at: now,
            updated_at: now,
            last_response: { code: null, status: "unused", message: null },
        };
        this.hooks.set(hook.id, hook);
        return hook;
    }

    /**
     * PATCH of the hook: `config`, when sent, replaces the whole configuration, so a secret not
     * sent again is dropped ("If you previously had a secret set, you must provide the same secret
     * or set a new secret or the secret will be removed", GitHub's description).
     */
    update(repo: RepositoryRef, id: number, input: UpdateHookInput): StoredHook {
        const hook = this.get(repo, id);
        const config = input.config === undefined ? hook.config : checkedConfig(input.config);
        let events = input.events === undefined ? hook.events : checkedEvents(input.events);
        if (input.add_events) events = checkedEvents([...events, ...input.add_events]);
        if (input.remove_events) events = events.filter((e) => !input.remove_events?.includes(e));
        this.refuseDuplicate(repo, config.url, events, hook.id);
        this.refuseOverLimit(repo, events, hook.id);
        Object.assign(hook, { config, events, active: input.active ?? hook.active, updated_at: timestamp() });
        return hook;
    }

    delete(repo: RepositoryRef, id: number): void {
        this.hooks.delete(this.get(repo, id).id);
    }

    find(id: number): StoredHook | undefined {
        return this.hooks.get(id);
    }

    recordResponse(hook: StoredHook, statusCode: number, status: string): void {
        const ok = statusCode >= 200 && statusCode < 300;
        hook.last_response = { code: statusCode || null, status: ok ? "active" : "misconfigured", message: ok ? "OK" : status };
    }

    /**
     * At most hooksPerEvent hooks of a repository per event, each event over it named as GitHub
     * does ("The \"push\" event cannot have more than 20 hooks"). A `*` hook counts for every event.
     */
    private refuseOverLimit(repo: RepositoryRef, events: string[], except?: number): void {
        const others = this.list(repo).filter((h) => h.id !== except);
        const full = events.filter((e) => e !== "*" && others.filter((h) => h.events.includes(e) || h.events.includes("*")).length >= hooksPerEvent);
        if (full.length > 0) throw validationFailed(...full.map((e) => hookError({ code: "custom", message: `The "${e}" event cannot have more than ${hooksPerEvent} hooks` })));
    }

    /** "Multiple webhooks can share the same config as long as those webhooks do not have any events that overlap." */
    private refuseDuplicate(repo: RepositoryRef, url: string, events: string[], except?: number): void {
        const overlaps = (a: string[], b: string[]) => a.includes("*") || b.includes("*") || a.some((e) => b.includes(e));
        if (this.list(repo).some((h) => h.id !== except && h.config.url === url && overlaps(h.events, events))) {
            throw validationFailed(hookError({ code: "custom", message: "Hook already exists on this repository" }));
        }
    }
}

/** The hook as GitHub's API shows it (the description's `hook` schema): the secret masked. */
export function hookView(hook: StoredHook, apiUrl: string) {
    const base = `${apiUrl}/repos/${hook.repo}/hooks/${hook.id}`;
    return {
        type: "Repository",
        id: hook.id,
        name: hook.name,
        active: hook.active,
        events: [...hook.events],
        config: configView(hook.config),
        updated_at: hook.updated_at,
        created_at: hook.created_at,
        url: base,
        test_url: `${base}/test`,
        ping_url: `${base}/pings`,
        deliveries_url: `${base}/deliveries`,
        last_response: { ...hook.last_response },
    };
}

/** The description's `webhook-config` example: keys in order, secret as "********" when set. */
function configView(config: HookConfig): Record<string, string> {
    return { content_type: config.content_type, insecure_ssl: config.insecure_ssl, ...(config.secret ? { secret: "********" } : {}), url: config.url };
}
