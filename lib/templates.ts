import * as fs from "node:fs";
import * as path from "node:path";
import type HandlebarsModule from "handlebars";
import { projectRoot } from "./projectRoot";

type Handlebars = typeof HandlebarsModule;
export type Renderer = (name: string, context: object) => string;

/** Directory holding one handlebars file per file written to the host. */
export const templatesDir = path.join(projectRoot(), "templates");

/**
 * Written by the build (program.js runs lib/precompileTemplates after tsc), beside this module:
 * every template precompiled. The compiled program renders from it with Handlebars' runtime alone,
 * never loading or running its compiler (0.1 s of each program run's CPU, twice in an `up`).
 * Run from source (tests, tsx), templates compile on first use.
 */
export const precompiledTemplatesFile = path.join(__dirname, "precompiledTemplates.js");

/**
 * Strict mode: a variable missing from the context is an error, not an empty string, so a renamed
 * config field cannot silently produce a broken file. HTML escaping is off because none of the
 * files we write are HTML. Compile-time options both: a precompiled template has them built in.
 */
export const compileOptions = { strict: true, noEscape: true } as const;

export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * One isolated handlebars environment: helpers registered here cannot leak into other users of
 * the library. The runtime is the library without its compiler.
 */
function environment(library: "handlebars" | "handlebars/runtime"): Handlebars {
    // A require by name: the runtime's own typings are empty, and it is the same API minus compile.
    const handlebars = (require(library) as Handlebars).create();
    handlebars.registerHelper("json", (value: unknown) => new handlebars.SafeString(JSON.stringify(value)));
    handlebars.registerHelper("join", (values: unknown[], separator: unknown) => values.map(String).join(typeof separator === "string" ? separator : " "));
    handlebars.registerHelper("eq", (a: unknown, b: unknown) => a === b);
    /** "/docs/" as "/docs": nginx's exact location for a project path typed without its slash. */
    handlebars.registerHelper("stripTrailingSlash", (value: unknown) => String(value).replace(/\/$/, ""));
    /** Quotes a value for POSIX sh: the only safe way to put config strings into a script. */
    handlebars.registerHelper("shq", (value: unknown) => new handlebars.SafeString(shellQuote(String(value))));
    return handlebars;
}

const templateNames = () =>
    fs
        .readdirSync(templatesDir)
        .filter((file) => file.endsWith(".hbs"))
        .map((file) => file.slice(0, -".hbs".length))
        .sort();

const templateSource = (name: string) => fs.readFileSync(path.join(templatesDir, `${name}.hbs`), "utf8");

/** A renderer that makes each template once, on its first use, with `make`. */
function rendererOf(make: (name: string) => HandlebarsTemplateDelegate): Renderer {
    const templates = new Map<string, HandlebarsTemplateDelegate>();
    return (name, context) => {
        let template = templates.get(name);
        if (!template) {
            template = make(name);
            templates.set(name, template);
        }
        return template(context);
    };
}

/** Compiles each template on first use, from templates/. */
export function compilingRenderer(): Renderer {
    const handlebars = environment("handlebars");
    return rendererOf((name) => handlebars.compile(templateSource(name), compileOptions));
}

/** Renders from precompiled specifications (precompileTemplates' module), with the runtime alone. */
export function precompiledRenderer(specs: Record<string, TemplateSpecification>): Renderer {
    const handlebars = environment("handlebars/runtime");
    return rendererOf((name) => {
        const spec = specs[name];
        if (!spec) throw new Error(`template ${name} is not in ${precompiledTemplatesFile}: rebuild (node program.js --build)`);
        return handlebars.template(spec);
    });
}

/** The module the build writes to precompiledTemplatesFile: every template, precompiled. */
export function precompiledTemplatesModule(): string {
    const handlebars = require("handlebars") as Handlebars;
    const entries = templateNames().map((name) => `${JSON.stringify(name)}: ${handlebars.precompile(templateSource(name), compileOptions)}`);
    return `// Written by the build (lib/precompileTemplates): templates/*.hbs precompiled by Handlebars.\nmodule.exports = {\n${entries.join(",\n")}\n};\n`;
}

let renderer: Renderer | undefined;

/** Runs `run` with renderTemplate rendering through `render` (tests compare the two renderers). */
export function renderingWith<T>(render: Renderer, run: () => T): T {
    const previous = renderer;
    renderer = render;
    try {
        return run();
    } finally {
        renderer = previous;
    }
}

/** Renders `templates/<name>.hbs` (precompiled by the build when the program runs compiled). */
export function renderTemplate(name: string, context: object): string {
    renderer ??= fs.existsSync(precompiledTemplatesFile) ? precompiledRenderer(require(precompiledTemplatesFile) as Record<string, TemplateSpecification>) : compilingRenderer();
    return renderer(name, context);
}
