import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { configReference, configReferenceMarkdown } from "../../lib/configReference";
import { repoRoot } from "./fixtures";

describe("config reference", () => {
    it("README's table is generated from the schema (run: npx tsx scripts/config-reference.ts)", () => {
        const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
        const table = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(readme)?.[1];
        expect(table).toBe(configReferenceMarkdown());
    });

    it("Pulumi.yaml types and describes exactly the schema's keys", () => {
        const project = parse(fs.readFileSync(path.join(repoRoot, "Pulumi.yaml"), "utf8")) as { name: string; runtime: { name: string }; config: Record<string, { type: string; description: string }> };
        expect(project.name).toBe("selfpages");
        expect(project.runtime.name).toBe("nodejs");
        const declared = Object.entries(project.config).map(([key, v]) => [key, v.type, v.description]);
        expect(declared).toEqual(configReference().map((d) => [d.key, d.type, d.description]));
    });

    it("every key has a description", () => {
        for (const doc of configReference()) expect(doc.description.length, doc.key).toBeGreaterThan(10);
    });
});
