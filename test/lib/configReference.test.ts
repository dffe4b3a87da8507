import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { configReference, configReferenceMarkdown, pulumiYamlEntry, serverReferenceMarkdown, siteReferenceMarkdown } from "../../lib/configReference";
import { repoRoot, validConfig } from "./fixtures";

describe("config reference", () => {
    it("README's table is generated from the schema (run: npx tsx scripts/configReference.ts)", () => {
        const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
        const table = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(readme)?.[1];
        expect(table).toBe(configReferenceMarkdown());
        expect(/<!-- site-reference:start -->\n([\s\S]*?)\n<!-- site-reference:end -->/.exec(readme)?.[1]).toBe(siteReferenceMarkdown());
        expect(/<!-- server-reference:start -->\n([\s\S]*?)\n<!-- server-reference:end -->/.exec(readme)?.[1]).toBe(serverReferenceMarkdown());
    });

    it("Pulumi.yaml types and describes exactly the schema's keys", () => {
        const project = parse(fs.readFileSync(path.join(repoRoot, "Pulumi.yaml"), "utf8")) as { name: string; runtime: { name: string }; config: Record<string, unknown> };
        expect(project.name).toBe("selfpages");
        expect(project.runtime.name).toBe("nodejs");
        expect(Object.entries(project.config)).toEqual(configReference().map((d) => [d.key, pulumiYamlEntry(d)]));
    });

    it("optional keys default to an empty value that validation reads as unset", () => {
        const optional = configReference().filter((d) => d.optional && d.default === "").map((d) => d.key);
        expect(optional).toEqual(["hostAddress", "hostPrivateKey", "hostKey", "servers", "sites", "siteRepository", "siteCloneUrl", "siteServerNames", "receiverPublicUrl", "githubDeploymentsToken", "tlsContactEmail", "tlsCaBundle"]);
        const { settings } = validConfig({ sites: "[]", siteCloneUrl: "", receiverPublicUrl: "", githubDeploymentsToken: "" });
        expect(settings.sites[0].cloneUrl).toBe("https://github.com/do-it-ecm/do-it.git");
        expect(settings.sites[0].hookUrl).toBe("https://do-it.example.org/webhook");
        expect(settings.deployments.enabled).toBe(false);
    });

    it("every key has a description", () => {
        for (const doc of configReference()) expect(doc.description.length, doc.key).toBeGreaterThan(10);
    });
});
