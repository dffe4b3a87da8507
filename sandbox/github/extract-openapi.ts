/**
 * Extracts the repository-webhook operations from GitHub's OpenAPI description
 * (@octokit/openapi, dereferenced) into hooks-openapi.json, so the stand-in does not load a 70 MB
 * file at run time. test/sandbox/github/openapi.test.ts checks the committed file stays in sync:
 *   npx tsx sandbox/github/extract-openapi.ts
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const subsetFile = path.join(__dirname, "hooks-openapi.json");
export const hooksPathPrefix = "/repos/{owner}/{repo}/hooks";

interface OpenApiDocument {
    openapi: string;
    info: { version: string; title: string };
    paths: Record<string, unknown>;
}

export function extractHooksSubset(): OpenApiDocument {
    const full = JSON.parse(fs.readFileSync(require.resolve("@octokit/openapi/generated/api.github.com.deref.json"), "utf8")) as OpenApiDocument;
    const paths = Object.fromEntries(Object.entries(full.paths).filter(([p]) => p === hooksPathPrefix || p.startsWith(`${hooksPathPrefix}/`)));
    return { openapi: full.openapi, info: { version: full.info.version, title: full.info.title }, paths };
}

if (require.main === module) {
    fs.writeFileSync(subsetFile, `${JSON.stringify(extractHooksSubset(), null, 1)}\n`);
    console.log(`wrote ${subsetFile}`);
}
