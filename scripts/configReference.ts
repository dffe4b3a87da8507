/**
 * Rewrites the README's config table and Pulumi.yaml's typed config block from the schema:
 *   npx tsx scripts/configReference.ts
 * test/lib/configReference.test.ts fails when they drift.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { configReference, configReferenceMarkdown, pulumiYamlEntry, serverReferenceMarkdown, siteReferenceMarkdown } from "../lib/configReference";

const root = path.resolve(__dirname, "..");
const readme = path.join(root, "README.md");
fs.writeFileSync(
    readme,
    fs
        .readFileSync(readme, "utf8")
        .replace(/(<!-- config-reference:start -->\n)[\s\S]*?(\n<!-- config-reference:end -->)/, `$1${configReferenceMarkdown()}$2`)
        .replace(/(<!-- site-reference:start -->\n)[\s\S]*?(\n<!-- site-reference:end -->)/, `$1${siteReferenceMarkdown()}$2`)
        .replace(/(<!-- server-reference:start -->\n)[\s\S]*?(<!-- server-reference:end -->)/, `$1${serverReferenceMarkdown()}\n$2`),
);

const projectFile = path.join(root, "Pulumi.yaml");
const project = parseDocument(fs.readFileSync(projectFile, "utf8"));
const config: Record<string, unknown> = {};
for (const doc of configReference()) {
    config[doc.key] = pulumiYamlEntry(doc);
}
project.set("config", config);
fs.writeFileSync(projectFile, project.toString({ lineWidth: 0 }));
