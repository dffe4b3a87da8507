// @ts-check
// Required first, with `node -r`, by the program (Pulumi.yaml's nodeargs: the language host runs
// node in the project's root) and by the dynamic-provider plugin's shim
// (toolchain/dynamicProviderShim.sh); program.js requires it too, for a node started otherwise.
// Plain JavaScript: it runs before any build exists.
//
// @pulumi/pulumi loads modules at import that neither process's run uses: the TypeScript compiler
// and npm's arborist and normalize-package-data (for serializing closures and packaging them with
// their node_modules: the build serialized the dynamic providers, see
// lib/providers/dynamicResource.ts), the Automation API (`pulumi.automation`: driving the CLI
// from a program), and the language host's run script loads OpenTelemetry's SDK and exporter for
// a `--tracing` URL that `pulumi up` does not pass. Each is replaced by a stand-in that loads the
// real module on first use, so any use still works: some 37 MiB of RSS and, measured for a program
// run on 2026-12-05, 0.17 s less per process when none comes (the Automation API 64 ms,
// OpenTelemetry's 78, normalize-package-data 23).
// source-map-support/register is imported for its effect alone (it maps every stack trace through
// source maps), so its stand-in is never used and it never loads: every resource takes a stack
// trace (the SDK's Resource.callsites), and mapping them made each run read and parse the SDK's own
// .js.map files (some 50 ms per run, for frames of the SDK's alone: the program's compiled files
// have no maps). Stack traces name the SDK's .js files instead of its .ts sources.
"use strict";

const deferred = new Set([
    "typescript",
    "@npmcli/arborist",
    "normalize-package-data",
    "@opentelemetry/exporter-zipkin",
    "@opentelemetry/instrumentation",
    "@opentelemetry/instrumentation-grpc",
    "@opentelemetry/resources",
    "@opentelemetry/sdk-trace-base",
    "@opentelemetry/sdk-trace-node",
    "source-map-support/register",
]);
/**
 * Relative requests, deferred only from the module that names them: the SDK's `automation`
 * namespace, and zod's `locales` namespace of error messages in some forty languages (27 ms per
 * process; zod loads the English messages it uses by their own path).
 */
const deferredFrom = [
    { request: "./automation", parent: /[\\/]node_modules[\\/]@pulumi[\\/]pulumi[\\/]index\.js$/ },
    { request: "../locales/index.cjs", parent: /[\\/]node_modules[\\/]zod[\\/]v4[\\/](core[\\/]index|classic[\\/]external)\.cjs$/ },
];

/** @type {{ _load(request: string, parent: { filename?: string } | undefined, isMain: boolean): unknown }} */
// @ts-ignore: Module._load is internal to Node, and the one hook that sees every require.
const Module = require("node:module");
const load = Module._load;
Module._load = function (request, parent, isMain) {
    const defer = deferred.has(request) || deferredFrom.some((d) => d.request === request && d.parent.test(parent?.filename ?? ""));
    if (!defer) return load.call(this, request, parent, isMain);
    /** @type {Record<string | symbol, unknown> | undefined} */
    let real;
    const get = () => (real ??= /** @type {Record<string | symbol, unknown>} */ (load.call(this, request, parent, isMain)));
    // __esModule: the compiled `import * as` and `import x from` take the stand-in as it is, without
    // listing its keys; so `default` is what they would have made of the real module: its default
    // export, or a CommonJS module's exports themselves.
    const property = (/** @type {string | symbol} */ key) => {
        if (key === "__esModule") return true;
        const module = get();
        return key === "default" && !module.__esModule ? module : module[key];
    };
    return new Proxy({}, { get: (_target, key) => property(key), has: (_target, key) => key in get() });
};
