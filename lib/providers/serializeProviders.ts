/**
 * The build's last step (program.js, after tsc): serializes every dynamic provider once into
 * serializedProviders.json, which DynamicResource reads instead of serializing in each run.
 *   node dist/lib/providers/serializeProviders.js
 */
import * as fs from "node:fs";
import type * as pulumi from "@pulumi/pulumi";
import { githubEnvironmentProvider } from "./githubEnvironment";
import { githubWebhookProvider } from "./githubWebhook";
import { providerKey, serializedProvidersFile, serializeProvider } from "./dynamicResource";

/** Every provider a DynamicResource of this program declares, by module and type. */
export const dynamicProviders: Array<[string, string, pulumi.dynamic.ResourceProvider]> = [
    ["selfpages", "GitHubWebhook", githubWebhookProvider as pulumi.dynamic.ResourceProvider],
    ["selfpages", "GitHubEnvironment", githubEnvironmentProvider as pulumi.dynamic.ResourceProvider],
];

async function main(): Promise<void> {
    const serialized: Record<string, string> = {};
    for (const [module, type, provider] of dynamicProviders) serialized[providerKey(module, type)] = await serializeProvider(provider);
    fs.writeFileSync(serializedProvidersFile, `${JSON.stringify(serialized, null, 1)}\n`);
}

if (require.main === module) {
    main().catch((error: unknown) => {
        console.error(`serializeProviders: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
    });
}
