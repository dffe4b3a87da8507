import { describe, expect, it } from "vitest";
import { allHostFiles } from "../../lib/hostFiles";
import { compilingRenderer, precompiledRenderer, precompiledTemplatesModule, renderingWith, type Renderer } from "../../lib/templates";
import { testDeploymentsToken, validConfig, validFleetConfig, validSitesConfig } from "../lib/fixtures";

/** The module the build writes, loaded as the program loads it (CommonJS). */
function loadModule(source: string): Record<string, TemplateSpecification> {
    const module = { exports: {} as Record<string, TemplateSpecification> };
    new Function("module", "exports", source)(module, module.exports);
    return module.exports;
}

/** Every template a stack renders, with the context it renders it with, for a few stacks. */
function renderedTemplates(): Array<[string, object, string]> {
    const compile = compilingRenderer();
    const calls: Array<[string, object, string]> = [];
    const recording: Renderer = (name, context) => {
        const text = compile(name, context);
        calls.push([name, context, text]);
        return text;
    };
    const secrets = { selfpages: ["s1-secret-value", "s2-secret-value"] };
    renderingWith(recording, () => {
        for (const os of ["alpine", "debian"] as const) allHostFiles(validConfig({}, os).settings, secrets);
        allHostFiles(validConfig({ tls: "off", githubDeploymentsToken: testDeploymentsToken }).settings, secrets);
        const sites = validSitesConfig();
        allHostFiles(sites.settings, Object.fromEntries(sites.settings.sites.map((site) => [site.name, ["a-secret"]])));
        const fleet = validFleetConfig();
        allHostFiles(fleet.settings, secrets);
    });
    return calls;
}

describe("precompiled templates (what the compiled program renders with)", () => {
    const specs = loadModule(precompiledTemplatesModule());
    const calls = renderedTemplates();

    it("precompiles every template", () => {
        const used = new Set(calls.map(([name]) => name));
        for (const name of used) expect(Object.keys(specs), name).toContain(name);
        expect(used.size).toBeGreaterThan(8);
    });

    it("renders byte for byte what compiling the template renders, for every file of these stacks", () => {
        const precompiled = precompiledRenderer(specs);
        for (const [name, context, text] of calls) expect(precompiled(name, context), name).toBe(text);
    });

    it("keeps strict mode: a variable missing from the context is an error, as compiled", () => {
        const messageOf = (render: Renderer) => {
            try {
                render("crontab", {});
            } catch (error) {
                return (error as Error).message;
            }
            return "rendered";
        };
        expect(messageOf(compilingRenderer())).toMatch(/not defined in/);
        expect(messageOf(precompiledRenderer(specs))).toBe(messageOf(compilingRenderer()));
    });
});
