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

    it("loads the real module on first use: serializing a closure still works", () => {
        const result = withDeferral(
            `const pulumi = require("@pulumi/pulumi"); const x = 41; pulumi.runtime.serializeFunction(() => x + 1).then((f) => console.log(JSON.stringify({ text: f.text, typescript: ${loaded("typescript")} })))`,
        );
        expect(result.typescript).toBe(true);
        expect(result.text).toContain("x + 1");
    });
});
