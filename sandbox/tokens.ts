import * as crypto from "node:crypto";

/**
 * Tokens shaped like GitHub's, made fresh for each sandbox so that a test searching the state, the
 * logs and the host for a token finds only real leaks: a classic one (the stack's githubToken) and
 * a fine-grained one (githubDeploymentsToken).
 */
export function newGitHubToken(kind: "classic" | "fine-grained" = "classic"): string {
    return kind === "classic" ? `ghp_${crypto.randomBytes(18).toString("hex")}` : `github_pat_${crypto.randomBytes(30).toString("hex")}`;
}
