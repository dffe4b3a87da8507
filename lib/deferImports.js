// @ts-check
// Required first by program.js and, with `node -r`, by the dynamic-provider plugin's shim
// (toolchain/dynamicProviderShim.sh). Plain JavaScript: it runs before any build exists.
//
// @pulumi/pulumi loads two large modules at import that neither process's run uses: the TypeScript
// compiler (for serializing closures: the build serialized the dynamic providers, see
// lib/providers/dynamicResource.ts) and npm's arborist (for packaging closures with their
// node_modules). Each is replaced by a stand-in that loads the real module on first use, so any
// use still works: some 37 MiB of RSS and a few hundred milliseconds less per process when none comes.
"use strict";

const deferred = new Set(["typescript", "@npmcli/arborist"]);
/** @type {{ _load(request: string, parent: unknown, isMain: boolean): unknown }} */
// @ts-ignore: Module._load is internal to Node, and the one hook that sees every require.
const Module = require("node:module");
const load = Module._load;
Module._load = function (request, parent, isMain) {
    if (!deferred.has(request)) return load.call(this, request, parent, isMain);
    /** @type {Record<string | symbol, unknown> | undefined} */
    let real;
    const get = () => (real ??= /** @type {Record<string | symbol, unknown>} */ (load.call(this, request, parent, isMain)));
    // __esModule: the compiled `import * as` takes the stand-in as it is, without listing its keys.
    return new Proxy({}, { get: (_target, key) => (key === "__esModule" ? true : get()[key]), has: (_target, key) => key in get() });
};
