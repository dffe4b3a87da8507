/**
 * @octokit/webhooks-methods (sign/verify of X-Hub-Signature-256) from this CommonJS project.
 * The package is ESM-only (its "exports" have only an "import" condition), so it is loaded with a
 * dynamic import(); TypeScript's "node" module resolution cannot see it through "exports", hence
 * the non-literal specifier, and its types come from its .d.ts by path (type-only, erased).
 */
import type * as WebhooksMethods from "@octokit/webhooks-methods/dist-types/index";

const specifier: string = "@octokit/webhooks-methods";
let loaded: Promise<typeof WebhooksMethods> | undefined;

export function webhooksMethods(): Promise<typeof WebhooksMethods> {
    loaded ??= import(specifier) as Promise<typeof WebhooksMethods>;
    return loaded;
}
