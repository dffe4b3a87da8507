import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./fixtures";

/** Runs `code` in a fresh node with lib/deferImports.js required first, as program.js and the shim do. */
function withDeferral(code: string) {
    const result = spawnSync(process.execPath, ["-r", path.join(repoRoot, "lib", "deferImports.js"), "-e", code], { cwd: repoRoot, encoding: "utf8" });
    if (result.status !== 0) throw new Error(result.stderr);
    return JSON.parse(result.stdout) as Record<string, unknown>;
}

const loaded = (name: string) => `Object.keys(require.cache).some((f) => f.includes("/node_modules/${name}/"))`;

describe("lib/deferImports.js", () => {
    it("keeps the TypeScript compiler and arborist out of an import of @pulumi/pulumi", () => {
        const result = withDeferral(`require("@pulumi/pulumi"); console.log(JSON.stringify({ typescript: ${loaded("typescript")}, arborist: ${loaded("@npmcli/arborist")} }))`);
        expect(result).toEqual({ typescript: false, arborist: false });
    });

    it("keeps the Automation API, normalize-package-data, OpenTelemetry's SDK and source-map-support out of the language host's run script and the SDK", () => {
        const result = withDeferral(
            `require("source-map-support/register"); require("@pulumi/pulumi/cmd/run/tracing"); const pulumi = require("@pulumi/pulumi"); console.log(JSON.stringify({ automation: Object.keys(require.cache).some((f) => f.includes("/@pulumi/pulumi/automation/")), normalize: ${loaded("normalize-package-data")}, otelSdk: ${loaded("@opentelemetry/sdk-trace-base")}, otelResources: ${loaded("@opentelemetry/resources")}, sourceMaps: ${loaded("source-map-support")}, namespace: typeof pulumi.automation.LocalWorkspace }))`,
        );
        // The namespace still works: its first use loads it.
        expect(result).toEqual({ automation: false, normalize: false, otelSdk: false, otelResources: false, sourceMaps: false, namespace: "function" });
    });

    it("keeps zod's forty locales out, with its English messages and the locales namespace still there", () => {
        const result = withDeferral(
            `const { z } = require("zod"); let message = ""; try { z.object({ a: z.string() }).parse({ a: 1 }); } catch (e) { message = e.issues[0].message; } console.log(JSON.stringify({ locales: Object.keys(require.cache).filter((f) => f.includes("/zod/v4/locales/")).map((f) => f.split("/").pop()), message, fr: typeof z.locales.fr }))`,
        );
        expect(result).toEqual({ locales: ["en.cjs"], message: "Invalid input: expected string, received number", fr: "function" });
    });

    it("gives a default import the module a CommonJS module is, and an ES module's default export", () => {
        const result = withDeferral(
            // __importDefault as tsc emits it (the SDK's codePaths.js has this one).
            `const __importDefault = (m) => (m && m.__esModule ? m : { default: m }); const npd = __importDefault(require("normalize-package-data")).default; const data = { name: "x", version: "1.0.0" }; npd(data); console.log(JSON.stringify({ kind: typeof npd, normalized: data._id }))`,
        );
        expect(result).toEqual({ kind: "function", normalized: "x@1.0.0" });
    });

    it("loads the real module on first use: serializing a closure still works", () => {
        const result = withDeferral(
            `const pulumi = require("@pulumi/pulumi"); const x = 41; pulumi.runtime.serializeFunction(() => x + 1).then((f) => console.log(JSON.stringify({ text: f.text, typescript: ${loaded("typescript")} })))`,
        );
        expect(result.typescript).toBe(true);
        expect(result.text).toContain("x + 1");
    });
});
