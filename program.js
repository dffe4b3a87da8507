// @ts-check
// The entry point Pulumi runs (package.json "main"; Pulumi.yaml turns ts-node off): the program
// compiled to dist/ by scripts/ensure-deps.sh, so no `preview` or `up` compiles TypeScript. Plain
// JavaScript because it runs before any build exists. A build older than a source is never run:
// it is rebuilt first (tsc, a few seconds, once), and an edit that does not compile stops here.
//   node program.js --build     what the install step runs: builds only when stale
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = __dirname;
const dist = path.join(root, "dist");
/** Written after a build that succeeded, with the mtime of the build's start. */
const stamp = path.join(dist, ".built");
/** Directories of the program's sources: TypeScript, and the templates the build precompiles. */
const sourceDirs = ["components", "lib", "templates"];
const sourceExtensions = [".ts", ".hbs"];
const sourceFiles = ["index.ts", "tsconfig.json", "tsconfig.build.json", "package-lock.json"];

/** Newest mtime (ms) over the program's sources: a few dozen stat calls, well under a millisecond each. */
function newestSource() {
    let newest = 0;
    const visit = (/** @type {string} */ dir) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            const file = path.join(dir, entry.name);
            if (entry.isDirectory()) visit(file);
            else if (sourceExtensions.some((extension) => entry.name.endsWith(extension))) newest = Math.max(newest, fs.statSync(file).mtimeMs);
        }
    };
    for (const dir of sourceDirs) if (fs.existsSync(path.join(root, dir))) visit(path.join(root, dir));
    for (const file of sourceFiles) newest = Math.max(newest, fs.statSync(path.join(root, file)).mtimeMs);
    return newest;
}

function builtAt() {
    try {
        return fs.statSync(stamp).mtimeMs;
    } catch {
        return -1;
    }
}

function build() {
    const started = new Date();
    let tsc;
    try {
        tsc = require.resolve("typescript/bin/tsc", { paths: [root] });
    } catch {
        throw new Error("selfpages: dist/ is missing or older than the sources, and typescript is not installed to build it: run `npm install` (with dev dependencies), then `node program.js --build`");
    }
    process.stderr.write("selfpages: sources are newer than dist/: building (tsc -p tsconfig.build.json)\n");
    // stdout too goes to stderr: the language host would show the program's stdout as its output.
    const result = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json")], { cwd: root, stdio: ["ignore", 2, 2] });
    if (result.status !== 0) throw new Error(`selfpages: the build failed (tsc -p tsconfig.build.json exited ${result.status ?? result.signal}); fix the errors above, nothing was run`);
    // Done once here rather than in every run: the dynamic providers' closures serialized, and the
    // templates precompiled.
    for (const [step, what] of [
        ["lib/providers/serializeProviders.js", "serializing the dynamic providers"],
        ["lib/precompileTemplates.js", "precompiling the templates"],
    ]) {
        const result = spawnSync(process.execPath, [path.join(dist, step)], { cwd: root, stdio: ["ignore", 2, 2] });
        if (result.status !== 0) throw new Error(`selfpages: the build failed (${what} exited ${result.status ?? result.signal}), nothing was run`);
    }
    fs.writeFileSync(stamp, "");
    // A source saved while tsc ran is newer than this and triggers the next build.
    fs.utimesSync(stamp, started, started);
}

/** Builds when dist/ is missing or older than a source; true when it built. */
function ensureBuilt() {
    if (builtAt() >= newestSource()) return false;
    build();
    return true;
}

if (require.main === module) {
    if (process.argv[2] !== "--build") {
        process.stderr.write("usage: node program.js --build (Pulumi runs this file as the program)\n");
        process.exit(2);
    }
    try {
        ensureBuilt();
    } catch (error) {
        process.stderr.write(`${/** @type {Error} */ (error).message}\n`);
        process.exit(1);
    }
} else {
    // Pulumi.yaml's nodeargs preload it (`-r`), before the SDK's runner; this is for a node started
    // otherwise, where the runner has already installed source-map-support: every resource takes
    // a stack trace (Resource.callsites, all frames), and mapping them through the SDK's own maps
    // cost about a tenth of a second per program run, for frames that are the SDK's alone (the
    // program's compiled files have no maps). V8's own formatting instead: the SDK's frames name
    // its .js files.
    require("./lib/deferImports.js");
    /** @type {{ prepareStackTrace?: unknown }} */ (/** @type {unknown} */ (Error)).prepareStackTrace = undefined;
    try {
        ensureBuilt();
    } catch (error) {
        // A RunError is printed as its message alone, without a JavaScript stack trace.
        const { RunError } = require("@pulumi/pulumi/errors");
        throw new RunError(/** @type {Error} */ (error).message);
    }
    // A computed path: the type check (tsconfig.json) must not follow it into the build.
    module.exports = require(path.join(dist, "index.js"));
}
