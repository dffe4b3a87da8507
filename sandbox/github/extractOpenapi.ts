/**
 * Extracts from GitHub's OpenAPI description (@octokit/openapi, generated/api.github.com.json) the
 * operations selfpages calls (calledOperations), the `ping` and `push` webhook descriptions
 * (x-webhooks), and every component they reference, transitively, into openapiSubset.json: the
 * stand-in validates against that small file instead of loading the 13-70 MB description at run
 * time. test/sandbox/github/openapiSubset.test.ts checks that the committed file equals a fresh
 * extraction. After upgrading @octokit/openapi or changing the list, regenerate it:
 *   npx tsx sandbox/github/extractOpenapi.ts
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const subsetFile = path.join(__dirname, "openapiSubset.json");
/**
 * The operations the product calls, by path and method, and nothing else: the webhook provider
 * (create, read, update, delete), the environment provider (put, get, delete) and the deploy
 * reporter (find the deployment of a SHA, create one, add a status).
 */
export const calledOperations: Record<string, string[]> = {
    "/repos/{owner}/{repo}/hooks": ["post"],
    "/repos/{owner}/{repo}/hooks/{hook_id}": ["get", "patch", "delete"],
    "/repos/{owner}/{repo}/environments/{environment_name}": ["get", "put", "delete"],
    "/repos/{owner}/{repo}/deployments": ["get", "post"],
    "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses": ["post"],
};
/** The webhook events the stand-in sends; their payload schemas come along. */
export const webhookEvents = ["ping", "push"] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface OpenApiSubset {
    openapi: string;
    info: { title: string; version: string; "x-extracted-from": string };
    paths: JsonObject;
    "x-webhooks": JsonObject;
    components: { [section: string]: JsonObject };
}

const isObject = (value: Json | undefined): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

function readDescription(): { document: JsonObject; source: string } {
    const file = require.resolve("@octokit/openapi/generated/api.github.com.json");
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(file), "..", "package.json"), "utf8")) as { name: string; version: string };
    return { document: JSON.parse(fs.readFileSync(file, "utf8")) as JsonObject, source: `${pkg.name}@${pkg.version} generated/api.github.com.json` };
}

/** Only local references ("#/components/<section>/<name>") occur in GitHub's description. */
function componentOf(ref: string): [string, string] {
    const match = /^#\/components\/([^/]+)\/([^/]+)$/.exec(ref);
    if (!match) throw new Error(`unsupported $ref ${ref}`);
    return [match[1], match[2].replace(/~1/g, "/").replace(/~0/g, "~")];
}

export function extractSubset(description = readDescription()): OpenApiSubset {
    const { document, source } = description;
    const allPaths = document.paths as JsonObject;
    const allWebhooks = document["x-webhooks"] as JsonObject;
    const allComponents = document.components as { [section: string]: JsonObject };
    const info = document.info as JsonObject;

    // In the description's order, so a regenerated file diffs cleanly.
    const paths: JsonObject = {};
    for (const [p, item] of Object.entries(allPaths)) {
        const methods = calledOperations[p];
        if (!methods || !isObject(item)) continue;
        paths[p] = Object.fromEntries(Object.entries(item).filter(([key]) => methods.includes(key)));
    }
    for (const [p, methods] of Object.entries(calledOperations)) {
        for (const method of methods) if (!isObject(paths[p]) || !(paths[p] as JsonObject)[method]) throw new Error(`no ${method.toUpperCase()} ${p} in ${source}`);
    }
    const webhooks = Object.fromEntries(
        webhookEvents.map((event) => {
            if (!allWebhooks[event]) throw new Error(`no x-webhooks.${event} in ${source}`);
            return [event, allWebhooks[event]];
        }),
    );

    const used = new Set<string>();
    const visit = (node: Json): void => {
        if (Array.isArray(node)) return node.forEach(visit);
        if (!isObject(node)) return;
        for (const [key, value] of Object.entries(node)) {
            if (key === "$ref" && typeof value === "string") {
                if (used.has(value)) continue;
                used.add(value);
                const [section, name] = componentOf(value);
                const target = allComponents[section]?.[name];
                if (target === undefined) throw new Error(`dangling $ref ${value} in ${source}`);
                visit(target);
            } else visit(value);
        }
    };
    visit(paths);
    visit(webhooks);

    // Sections and names in the description's own order, so a regenerated file diffs cleanly.
    const components: OpenApiSubset["components"] = {};
    for (const [section, entries] of Object.entries(allComponents)) {
        const kept = Object.entries(entries).filter(([name]) => used.has(`#/components/${section}/${name.replace(/~/g, "~0").replace(/\//g, "~1")}`));
        if (kept.length > 0) components[section] = Object.fromEntries(kept);
    }
    return {
        openapi: String(document.openapi),
        info: { title: String(info.title), version: String(info.version), "x-extracted-from": source },
        paths,
        "x-webhooks": webhooks,
        components,
    };
}

export const serializeSubset = (subset: OpenApiSubset): string => `${JSON.stringify(subset, null, 1)}\n`;

if (require.main === module) {
    const text = serializeSubset(extractSubset());
    fs.writeFileSync(subsetFile, text);
    console.log(`wrote ${path.relative(process.cwd(), subsetFile)} (${text.length} bytes)`);
}
