import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { declareFleet } from "../../../components";
import { providerKey, serializeProvider } from "../../../lib/providers/dynamicResource";
import { dynamicProviders } from "../../../lib/providers/serializeProviders";
import { registerUnderMocks } from "../../components/harness";
import { testDeploymentsToken, validConfig } from "../fixtures";

describe("dynamic providers serialized by the build", () => {
    it("list every dynamic resource type the program declares", async () => {
        const { settings, secrets } = validConfig({ githubDeploymentsToken: testDeploymentsToken });
        const resources = await registerUnderMocks(() => {
            declareFleet({ settings, secrets });
        });
        const declared = new Set(resources.map((r) => r.type).filter((t) => t.startsWith("pulumi-nodejs:dynamic")));
        const listed = new Set(dynamicProviders.map(([module, type]) => `pulumi-nodejs:dynamic/${module}:${type}`));
        expect(declared.size).toBeGreaterThanOrEqual(2);
        expect(listed).toEqual(declared);
        // Run from source there is no build: each resource carries its provider serialized in the run.
        for (const r of resources.filter((r) => declared.has(r.type))) expect(r.inputs.__provider).toMatch(/^exports\.handler = __f0;/);
    });

    it("serialize each provider as pulumi.dynamic.Resource does, capturing no secret", async () => {
        for (const [module, type, provider] of dynamicProviders) {
            const text = await serializeProvider(provider);
            expect(text, providerKey(module, type)).toBe((await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true })).text);
            expect(text).toMatch(/^exports\.handler = __f0;/);
        }
    });
});
