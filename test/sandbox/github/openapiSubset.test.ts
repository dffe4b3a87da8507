import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { extractSubset, serializeSubset, subsetFile } from "../../../sandbox/github/extractOpenapi";
import { describedWebhookEvents, operations, subset } from "../../../sandbox/github/openapi";

describe("the committed subset of GitHub's OpenAPI description", () => {
    it("equals a fresh extraction from the installed @octokit/openapi (else: npx tsx sandbox/github/extractOpenapi.ts)", () => {
        const fresh = serializeSubset(extractSubset());
        expect(fs.readFileSync(subsetFile, "utf8") === fresh).toBe(true);
    });

    it("holds the operations selfpages calls and no other, and the ping and push webhooks", () => {
        expect(operations.map((o) => `${o.method} ${o.template} ${o.operationId}`).sort()).toEqual(
            [
                "POST /repos/{owner}/{repo}/hooks repos/create-webhook",
                "GET /repos/{owner}/{repo}/hooks/{hook_id} repos/get-webhook",
                "PATCH /repos/{owner}/{repo}/hooks/{hook_id} repos/update-webhook",
                "DELETE /repos/{owner}/{repo}/hooks/{hook_id} repos/delete-webhook",
                "GET /repos/{owner}/{repo}/environments/{environment_name} repos/get-environment",
                "PUT /repos/{owner}/{repo}/environments/{environment_name} repos/create-or-update-environment",
                "DELETE /repos/{owner}/{repo}/environments/{environment_name} repos/delete-an-environment",
                "GET /repos/{owner}/{repo}/deployments repos/list-deployments",
                "POST /repos/{owner}/{repo}/deployments repos/create-deployment",
                "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses repos/create-deployment-status",
            ].sort(),
        );
        expect(describedWebhookEvents.sort()).toEqual(["ping", "push"]);
    });

    it("is self-contained: every $ref resolves inside it", () => {
        const refs = [...JSON.stringify(subset).matchAll(/"\$ref":"#\/components\/([^/"]+)\/([^"]+)"/g)];
        expect(refs.length).toBeGreaterThan(20);
        const components = subset.components as unknown as Record<string, Record<string, unknown>>;
        expect(refs.filter(([, section, name]) => components[section]?.[name] === undefined).map(([ref]) => ref)).toEqual([]);
    });

    it("is small enough to load at run time", () => {
        expect(fs.statSync(subsetFile).size).toBeLessThan(400_000);
    });
});
