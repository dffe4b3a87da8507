import examples from "@octokit/webhooks-examples";

/** Webhook payloads shaped like GitHub's, from the examples in @octokit/webhooks-examples. */
interface ExampleGroup {
    name: string;
    examples: Array<Record<string, unknown>>;
}

function example(event: string): Record<string, unknown> {
    const group = (examples as unknown as ExampleGroup[]).find((g) => g.name === event);
    if (!group) throw new Error(`no ${event} example in @octokit/webhooks-examples`);
    return structuredClone(group.examples[0]);
}

export interface RepositoryRef {
    id: number;
    owner: string;
    name: string;
}

function repository(repo: RepositoryRef, base: Record<string, unknown>): Record<string, unknown> {
    const fullName = `${repo.owner}/${repo.name}`;
    return {
        ...base,
        id: repo.id,
        name: repo.name,
        full_name: fullName,
        html_url: `https://github.com/${fullName}`,
        url: `https://api.github.com/repos/${fullName}`,
        owner: { ...(base.owner as object), login: repo.owner },
    };
}

export function pushPayload(repo: RepositoryRef, opts: { ref: string; after: string; before?: string; headCommitMessage?: string }): Record<string, unknown> {
    const payload = example("push");
    const before = opts.before ?? "0".repeat(40);
    const headCommit = { ...(payload.head_commit as object), id: opts.after, tree_id: opts.after, message: opts.headCommitMessage ?? "Publish site" };
    return {
        ...payload,
        ref: opts.ref,
        before,
        after: opts.after,
        compare: `https://github.com/${repo.owner}/${repo.name}/compare/${before.slice(0, 12)}...${opts.after.slice(0, 12)}`,
        commits: [headCommit],
        head_commit: headCommit,
        repository: repository(repo, payload.repository as Record<string, unknown>),
    };
}

export function pingPayload(repo: RepositoryRef, hook: object & { id: number }): Record<string, unknown> {
    const payload = example("ping");
    return { ...payload, zen: "Keep it logically awesome.", hook_id: hook.id, hook, repository: repository(repo, (payload.repository ?? {}) as Record<string, unknown>) };
}
