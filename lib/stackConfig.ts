import * as pulumi from "@pulumi/pulumi";
import { validateConfig, type ValidatedConfig } from "./config";

export const configNamespace = "selfpages";

// isConfigSecret is exported by the SDK's runtime but left out of its typings (@internal).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

/** Reads and validates the stack's `selfpages:` config: no resource exists before this passes. */
export function loadStackConfig(): ValidatedConfig {
    const prefix = `${configNamespace}:`;
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (key.startsWith(prefix)) values[key.slice(prefix.length)] = value;
    }
    return validateConfig(configNamespace, values, (key) => runtimeConfig.isConfigSecret(prefix + key));
}
