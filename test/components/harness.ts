import * as pulumi from "@pulumi/pulumi";

export const remoteCommandType = "command:remote:Command";
export const randomPasswordType = "random:index/randomPassword:RandomPassword";
export const githubWebhookType = "pulumi-nodejs:dynamic/selfpages:GitHubWebhook";

/** Pulumi's wire marker for a secret value. */
const secretSig = "4dabf18193072939515e22adb298388d";

export interface Registered {
    type: string;
    name: string;
    parent: string;
    dependencies: string[];
    /** The parent URN of each of its aliases that names one: where earlier releases kept it. */
    aliasParents: string[];
    /** Inputs with secrets unwrapped. */
    inputs: Record<string, unknown>;
    /** Inputs as sent to the engine: secrets still wrapped in their marker. */
    wire: Record<string, unknown>;
}

export const isSecretValue = (value: unknown): boolean => typeof value === "object" && value !== null && secretSig in value;

function unwrap(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(unwrap);
    if (typeof value === "object" && value !== null) {
        if (secretSig in value) return unwrap((value as unknown as { value: unknown }).value);
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v)]));
    }
    return value;
}

/** The value a mocked RandomPassword generates: tests search for it to prove it never leaks. */
export const mockSecret = (name: string) => `mocksecret${name.replace(/[^A-Za-z0-9]/g, "")}`;

/**
 * Runs `declare` under Pulumi's mocks and records every resource registration with its parent,
 * its dependencies and its inputs as they would reach the engine. A command named in
 * `commandStdout` prints that (what the host would answer).
 */
export async function registerUnderMocks(declare: () => void, commandStdout: Record<string, string> = {}): Promise<Registered[]> {
    const registered: Registered[] = [];
    // The mock monitor hides the request's dependencies from Mocks.newResource; wrap it to see them.
    const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks") as {
        // The request is a generated protobuf class without typings in the SDK's public surface.
        MockMonitor: { prototype: { registerResource(req: any, callback: unknown): Promise<void> } };
    };
    const original = MockMonitor.prototype.registerResource;
    MockMonitor.prototype.registerResource = async function (req, callback) {
        const wire = req.getObject().toJavaScript() as Record<string, unknown>;
        registered.push({
            type: req.getType(),
            name: req.getName(),
            parent: req.getParent(),
            dependencies: req.getDependenciesList(),
            // Alias protobuf messages (the mocks take alias specs): only a spec's parent is read here.
            aliasParents: req.getAliasesList().map((alias: any) => alias.getSpec()?.getParenturn() ?? "").filter(Boolean),
            inputs: unwrap(wire) as Record<string, unknown>,
            wire,
        });
        return original.call(this, req, callback);
    };
    try {
        await pulumi.runtime.setMocks(
            {
                newResource(args) {
                    const state = { ...args.inputs };
                    if (args.type === randomPasswordType) state.result = mockSecret(args.name);
                    if (args.type === githubWebhookType) state.hookId = 4242;
                    if (args.type === remoteCommandType) Object.assign(state, { stdout: commandStdout[args.name] ?? "", stderr: "" });
                    return { id: `${args.name}-id`, state };
                },
                call: (args) => args.inputs,
            },
            "selfpages",
            "unit",
            false,
        );
        declare();
        // Let every registration (they are async) reach the monitor.
        await new Promise((resolve) => setTimeout(resolve, 200));
        for (let i = 0; i < 20; i++) {
            const before = registered.length;
            await new Promise((resolve) => setTimeout(resolve, 50));
            if (registered.length === before && i > 2) break;
        }
    } finally {
        MockMonitor.prototype.registerResource = original;
    }
    return registered;
}
