import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

/** Written by the build (program.js runs lib/providers/serializeProviders.ts after tsc), beside this module. */
export const serializedProvidersFile = path.join(__dirname, "serializedProviders.json");

/** The SDK's serialization of a provider, exactly as pulumi.dynamic.Resource makes it. */
export async function serializeProvider(provider: pulumi.dynamic.ResourceProvider): Promise<string> {
    const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    // dynamic.Resource would make `__provider` a secret then; none of ours captures one.
    if (serialized.containsSecrets) throw new Error("a dynamic provider's closure captures a secret");
    return serialized.text;
}

let prebuilt: Record<string, string> | undefined;
function prebuiltProvider(key: string): string | undefined {
    prebuilt ??= fs.existsSync(serializedProvidersFile) ? (JSON.parse(fs.readFileSync(serializedProvidersFile, "utf8")) as Record<string, string>) : {};
    return prebuilt[key];
}

/**
 * A dynamic resource as pulumi.dynamic.Resource declares it (the same type token, and the same
 * `__provider` input: the provider's closure serialized by the SDK), with that serialization done
 * once by the build instead of in every run. Serializing parses the closure with the TypeScript
 * compiler, which the compiled program then never loads (program.js defers it): 37 MiB of RSS and
 * a quarter of a second per run. Run from source (tests, tsx), it serializes as dynamic.Resource does.
 */
export abstract class DynamicResource extends pulumi.CustomResource {
    constructor(provider: pulumi.dynamic.ResourceProvider, name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions | undefined, module: string, type: string) {
        const key = providerKey(module, type);
        super(`pulumi-nodejs:dynamic/${module}:${type}`, name, { ...props, __provider: prebuiltProvider(key) ?? serializeProvider(provider) }, opts);
    }
}

export const providerKey = (module: string, type: string) => `${module}:${type}`;
