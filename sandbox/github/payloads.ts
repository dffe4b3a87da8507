/**
 * Webhook payloads shaped like GitHub's: the `push` and `ping` examples of
 * @octokit/webhooks-examples (payloads recorded from GitHub), with the repository, owner, refs and
 * commits of the stand-in substituted. openapi.ts checks each against the description's schema
 * before it is sent.
 */
import examples from "@octokit/webhooks-examples";
import type { RepositoryRef } from "./repositories";

type Payload = Record<string, unknown>;

export interface PushOptions {
    ref: string;
    after: string;
    before?: string;
    headCommitMessage?: string;
}

export const zeroSha = "0".repeat(40);

function example(event: "push" | "ping", pick: (e: Payload) => boolean): Payload {
    const group = examples.find((g) => g.name === event);
    // The definitions are typed per event name; a plain object is all this module needs.
    const found = (group?.examples as unknown as Payload[] | undefined)?.find(pick);
    if (!found) throw new Error(`@octokit/webhooks-examples has no suitable ${event} example`);
    return structuredClone(found);
}

/** Replaces, in every string of a value, the example's repository and owner by the stand-in's. */
function substitute<T>(value: T, from: { fullName: string; owner: string }, to: RepositoryRef): T {
    const swap = (s: string) => s.split(from.fullName).join(to.fullName).split(from.owner).join(to.owner);
    const walk = (v: unknown): unknown => {
        if (typeof v === "string") return swap(v);
        if (Array.isArray(v)) return v.map(walk);
        if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
        return v;
    };
    return walk(value) as T;
}

/** The example's sender, as the repository's owner (the one who pushed or created the hook). */
function senderOf(repo: RepositoryRef, exampleSender: Payload): Payload {
    return substitute(exampleSender, { fullName: repo.fullName, owner: String(exampleSender.login) }, repo);
}

function exampleOwnerAndName(payload: Payload): { fullName: string; owner: string } {
    const repository = payload.repository as { full_name: string; owner: { login: string } };
    return { fullName: repository.full_name, owner: repository.owner.login };
}

function repositoryOf(repo: RepositoryRef, exampleRepository: Payload, now: Date): Payload {
    return {
        ...exampleRepository,
        id: repo.id,
        node_id: Buffer.from(`010:Repository${repo.id}`).toString("base64"),
        name: repo.name,
        full_name: repo.fullName,
        // Push payloads carry Unix times, other events ISO 8601: keep the example's kind.
        pushed_at: typeof exampleRepository.pushed_at === "number" ? Math.floor(now.getTime() / 1000) : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
        // Fields GitHub added after the examples were recorded; the description requires them.
        has_discussions: exampleRepository.has_discussions ?? false,
        topics: exampleRepository.topics ?? [],
        visibility: exampleRepository.visibility ?? (exampleRepository.private ? "private" : "public"),
    };
}

export function pushPayload(repo: RepositoryRef, opts: PushOptions, now = new Date()): Payload {
    // A push recorded from a repository hook (no installation), of the newest shape.
    const base = example("push", (e) => !("installation" in e) && !("organization" in e));
    const payload = substitute(base, exampleOwnerAndName(base), repo);
    const before = opts.before ?? zeroSha;
    const created = before === zeroSha;
    const deleted = opts.after === zeroSha;
    const branch = opts.ref.replace(/^refs\/(heads|tags)\//, "");
    const stamp = now.toISOString().replace(/\.\d{3}Z$/, "Z");
    const exampleCommit = payload.head_commit as Payload;
    const headCommit = deleted
        ? null
        : {
              ...exampleCommit,
              id: opts.after,
              tree_id: exampleCommit.tree_id,
              distinct: true,
              message: opts.headCommitMessage ?? "Publish site",
              timestamp: stamp,
              url: `https://github.com/${repo.fullName}/commit/${opts.after}`,
              added: [],
              removed: [],
              modified: [],
          };
    return {
        ...payload,
        ref: opts.ref,
        before,
        after: opts.after,
        created,
        deleted,
        forced: false,
        base_ref: null,
        compare: created ? `https://github.com/${repo.fullName}/compare/${branch}` : `https://github.com/${repo.fullName}/compare/${before.slice(0, 12)}...${opts.after.slice(0, 12)}`,
        commits: headCommit ? [headCommit] : [],
        head_commit: headCommit,
        repository: repositoryOf(repo, payload.repository as Payload, now),
        sender: senderOf(repo, payload.sender as Payload),
    };
}

const zen = ["Keep it logically awesome.", "Responsive is better than fast.", "Anything added dilutes everything else.", "Design for failure.", "Speak like a human.", "Mind your words, they are important."];
let zenIndex = 0;

/** The ping sent when a hook is created or pinged: the hook as the API shows it. */
export function pingPayload(repo: RepositoryRef, hook: { id: number }, now = new Date()): Payload {
    const base = example("ping", (e) => "repository" in e && "deliveries_url" in (e.hook as Payload));
    const payload = substitute(base, exampleOwnerAndName(base), repo);
    return {
        zen: zen[zenIndex++ % zen.length],
        hook_id: hook.id,
        hook,
        repository: repositoryOf(repo, payload.repository as Payload, now),
        sender: senderOf(repo, payload.sender as Payload),
    };
}
