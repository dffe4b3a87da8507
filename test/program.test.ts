import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./lib/fixtures";

// program.js with the project's build settings, on a small program of its own: what Pulumi
// runs must never be a build older than its sources.
const project = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-program-"));

function write(file: string, text: string, mtime?: Date) {
    fs.mkdirSync(path.dirname(path.join(project, file)), { recursive: true });
    fs.writeFileSync(path.join(project, file), text);
    if (mtime) fs.utimesSync(path.join(project, file), mtime, mtime);
}

/** Loads program.js as the language host does, and prints what the program's function returns. */
function load() {
    const script = `try { const f = require(${JSON.stringify(path.join(project, "program.js"))}); console.log("result=" + f()); } catch (e) { console.log("error=" + e.constructor.name + ": " + e.message); }`;
    const result = spawnSync(process.execPath, ["-e", script], { cwd: project, encoding: "utf8" });
    return { stdout: result.stdout.trim(), stderr: result.stderr };
}

describe("program.js", () => {
    beforeAll(() => {
        fs.mkdirSync(path.join(project, "lib"));
        for (const file of ["program.js", "lib/deferImports.js", "tsconfig.json", "tsconfig.build.json", "Pulumi.yaml"]) fs.copyFileSync(path.join(repoRoot, file), path.join(project, file));
        fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(project, "node_modules"));
        const past = new Date(Date.now() - 60_000);
        write("package-lock.json", "{}", past);
        write("index.ts", 'import { version } from "./lib/version";\nexport = () => version;\n', past);
        write("lib/version.ts", 'export const version = "v1";\n', past);
        write("components/index.ts", "export {};\n", past);
        // The build's second step: here it leaves a mark of each run.
        write("lib/providers/serializeProviders.ts", 'import * as fs from "node:fs";\nfs.appendFileSync(`${__dirname}/serialized.log`, "serialized\\n");\n', past);
        write("lib/precompileTemplates.ts", 'import * as fs from "node:fs";\nfs.appendFileSync(`${__dirname}/precompiled.log`, "precompiled\\n");\n', past);
    });
    afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

    it("builds dist/ when it is missing, then runs it without building again", () => {
        const first = load();
        expect(first.stdout).toBe("result=v1");
        expect(first.stderr).toContain("sources are newer than dist/: building");
        expect(fs.readFileSync(path.join(project, "dist", "lib", "providers", "serialized.log"), "utf8")).toBe("serialized\n");
        expect(fs.readFileSync(path.join(project, "dist", "lib", "precompiled.log"), "utf8")).toBe("precompiled\n");
        const again = load();
        expect(again).toEqual({ stdout: "result=v1", stderr: "" });
    });

    it("rebuilds before running when a source is newer than the build", () => {
        write("lib/version.ts", 'export const version = "v2";\n');
        const result = load();
        expect(result.stderr).toContain("building");
        expect(result.stdout).toBe("result=v2");
    });

    it("rebuilds when a template is newer than the build: the build precompiles them", () => {
        write("templates/motd.hbs", "hello {{name}}\n");
        const result = load();
        expect(result.stderr).toContain("building");
        expect(fs.readFileSync(path.join(project, "dist", "lib", "precompiled.log"), "utf8")).toBe("precompiled\nprecompiled\nprecompiled\n");
        expect(load()).toEqual({ stdout: "result=v2", stderr: "" });
    });

    it("refuses to run a source that does not compile, with a message and no stack trace", () => {
        write("lib/version.ts", "export const version: number = \"v3\";\n");
        const result = load();
        expect(result.stdout).toMatch(/^error=RunError: selfpages: the build failed \(tsc -p tsconfig.build.json exited 2\); fix the errors above, nothing was run$/);
        expect(result.stderr).toContain("error TS2322");
        // Still stale: the next run tries again instead of running the old build.
        write("lib/version.ts", 'export const version = "v4";\n');
        expect(load().stdout).toBe("result=v4");
    });

    it("node program.js --build builds only when stale (the install step)", () => {
        const build = () => spawnSync(process.execPath, [path.join(project, "program.js"), "--build"], { encoding: "utf8" });
        const fresh = build();
        expect(fresh.status).toBe(0);
        expect(fresh.stderr).toBe("");
        write("components/index.ts", "export const touched = true;\n");
        const stale = build();
        expect(stale.status).toBe(0);
        expect(stale.stderr).toContain("building");
    });
});
