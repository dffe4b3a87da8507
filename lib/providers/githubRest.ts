/** Where to reach GitHub's REST API, and the token to call it with. */
export interface GitHubApi {
    apiUrl: string;
    token: string;
}

/**
 * One call to GitHub's REST API, shared by the dynamic providers. A 404 is an answer (the caller
 * decides what a missing hook or environment means); any other error names the request and
 * GitHub's message, never the token. Self-contained (no module-level value): a dynamic provider's
 * serialized closure captures this function and nothing else.
 */
export async function callGitHub(api: GitHubApi, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const response = await fetch(`${api.apiUrl.replace(/\/+$/, "")}${path}`, {
        method,
        headers: {
            accept: "application/vnd.github+json",
            authorization: `Bearer ${api.token}`,
            "user-agent": "selfpages",
            "x-github-api-version": "2022-11-28",
            ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let json: unknown = undefined;
    try {
        json = text ? JSON.parse(text) : undefined;
    } catch {
        json = text;
    }
    if (!response.ok && response.status !== 404) {
        const message = typeof json === "object" && json !== null && "message" in json ? String((json as { message: unknown }).message) : text.slice(0, 200);
        throw new Error(`GitHub API ${method} ${path} answered ${response.status}: ${message}`);
    }
    return { status: response.status, json };
}
