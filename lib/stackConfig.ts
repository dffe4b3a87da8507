/**
 * The one reader of a stack's `selfpages:` config, wherever it comes from: the engine (the
 * program), the CLI (the preflight, which needs the decrypted secrets), or the stack file (render,
 * which needs none). Every path strips the namespace, turns values into the strings the engine
 * would pass, and validates them with the same schema.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { validateConfig, type ValidatedConfig } from "./config";

export const configNamespace = "selfpages";
const prefix = `${configNamespace}:`;

// isConfigSecret is exported by the SDK's runtime but left out of its typings (@internal).
const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

/** `selfpages:`-keyed entries as name -> string, the way the engine hands values to a program. */
function namespaced(entries: Iterable<[string, unknown]>): Record<string, string> {
    const values: Record<string, string> = {};
    for (const [key, value] of entries) {
        if (key.startsWith(prefix) && value !== undefined) values[key.slice(prefix.length)] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return values;
}

/** In the program: no resource exists before this passes. */
export function loadStackConfig(): ValidatedConfig {
    const values = namespaced(Object.entries(pulumi.runtime.allConfig()));
    return validateConfig(configNamespace, values, (key) => runtimeConfig.isConfigSecret(prefix + key));
}

/** Through the Pulumi CLI, secrets decrypted: the usual backend login or passphrase applies. */
export function readStackConfig(stack: string, cwd: string, env: NodeJS.ProcessEnv): ValidatedConfig {
    const raw = JSON.parse(execFileSync("pulumi", ["config", "--json", "--show-secrets", "--stack", stack], { cwd, env, encoding: "utf8" })) as Record<string, { value?: unknown; secret?: boolean }>;
    const values = namespaced(Object.entries(raw).map(([key, entry]) => [key, entry.value]));
    return validateConfig(configNamespace, values, (key) => raw[prefix + key]?.secret === true);
}

/** The values of a Pulumi.<stack>.yaml; a secret, encrypted there, reads as `encryptedSecret`. */
export function stackFileValues(stackFile: string): Record<string, string> {
    // Loaded here, not with this module: the program reads its config from the engine, and the
    // YAML parser cost 24 ms of each of its runs (2026-12-05).
    const { parse } = require("yaml") as typeof import("yaml");
    const doc = (parse(fs.readFileSync(stackFile, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const isEncrypted = (value: unknown) => typeof value === "object" && value !== null && "secure" in value;
    return namespaced(Object.entries(doc.config ?? {}).map(([key, value]) => [key, isEncrypted(value) ? encryptedSecret : value]));
}

export const encryptedSecret = "[encrypted secret]";
