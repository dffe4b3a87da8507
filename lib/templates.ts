import * as fs from "node:fs";
import * as path from "node:path";
import Handlebars from "handlebars";
import { projectRoot } from "./projectRoot";

/** Directory holding one handlebars file per file written to the host. */
export const templatesDir = path.join(projectRoot(), "templates");

// One isolated handlebars environment: helpers registered here cannot leak into other users of
// the library, and templates are compiled once per process.
const handlebars = Handlebars.create();
handlebars.registerHelper("json", (value: unknown) => new handlebars.SafeString(JSON.stringify(value)));
handlebars.registerHelper("join", (values: unknown[], separator: unknown) =>
    values.map(String).join(typeof separator === "string" ? separator : " "),
);
handlebars.registerHelper("eq", (a: unknown, b: unknown) => a === b);
/** "/docs/" as "/docs": nginx's exact location for a project path typed without its slash. */
handlebars.registerHelper("stripTrailingSlash", (value: unknown) => String(value).replace(/\/$/, ""));
/** Quotes a value for POSIX sh: the only safe way to put config strings into a script. */
handlebars.registerHelper("shq", (value: unknown) => new handlebars.SafeString(shellQuote(String(value))));

const compiled = new Map<string, HandlebarsTemplateDelegate>();

export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Renders `templates/<name>.hbs`. Strict mode: a variable missing from the context is an error,
 * not an empty string, so a renamed config field cannot silently produce a broken file.
 * HTML escaping is off because none of the files we write are HTML.
 */
export function renderTemplate(name: string, context: object): string {
    let template = compiled.get(name);
    if (!template) {
        const source = fs.readFileSync(path.join(templatesDir, `${name}.hbs`), "utf8");
        template = handlebars.compile(source, { strict: true, noEscape: true });
        compiled.set(name, template);
    }
    return template(context);
}
