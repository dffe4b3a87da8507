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

/** The nodejs dynamic-provider plugin as an explicit provider (the SDK's ProviderResource is abstract). */
class NodejsDynamicProvider extends pulumi.ProviderResource {
    constructor(name: string, opts: pulumi.ResourceOptions) {
        super("pulumi-nodejs", name, {}, opts);
    }
}

let dynamicProvider: NodejsDynamicProvider | undefined;

/**
 * The provider of every dynamic resource of the stack, registered on first call: the program calls
 * it before loading its components, because the engine starts a provider's plugin when the provider
 * registers, and does nothing else meanwhile. The dynamic provider's plugin is a node process of
 * its own (about 0.25 s to start); left to the engine's default provider, it started when the first
 * hook registered, at the end of the graph, and every `preview` and `up` waited for it there.
 * Explicit, it starts while this process loads its modules and, in an `up`, checks the hosts.
 * It takes over the default provider of earlier stacks (the alias: their hooks stay as they are),
 * and it gets no configuration, where the default one was handed the whole stack config, secrets
 * included (one update of that provider, in state only, on the first `up` after the upgrade).
 */
export function startDynamicProvider(): pulumi.ProviderResource {
    return (dynamicProvider ??= new NodejsDynamicProvider("selfpages-github", { aliases: [pulumi.createUrn("default", "pulumi:providers:pulumi-nodejs")] }));
}

/**
 * A dynamic resource as pulumi.dynamic.Resource declares it (the same type token, and the same
 * `__provider` input: the provider's closure serialized by the SDK), with that serialization done
 * once by the build instead of in every run. Serializing parses the closure with the TypeScript
 * compiler, which the compiled program then never loads (lib/deferImports.js defers it): 37 MiB of RSS and
 * a quarter of a second per run. Run from source (tests, tsx), it serializes as dynamic.Resource does.
 * Its provider is startDynamicProvider's.
 */
export abstract class DynamicResource extends pulumi.CustomResource {
    constructor(provider: pulumi.dynamic.ResourceProvider, name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions | undefined, module: string, type: string) {
        const key = providerKey(module, type);
        super(`pulumi-nodejs:dynamic/${module}:${type}`, name, { ...props, __provider: prebuiltProvider(key) ?? serializeProvider(provider) }, { ...opts, provider: startDynamicProvider() });
    }
}

export const providerKey = (module: string, type: string) => `${module}:${type}`;
