import { configSchema, secretKeys, serverSchema, siteSchema } from "./config";

export interface ConfigKeyDoc {
    key: string;
    type: "string" | "integer" | "array";
    /** An array's items: strings, or objects (the \`sites\` list). */
    items?: "string" | "object";
    /** JSON of the default, "" when the key has none. */
    default: string;
    /** Optional with a computed default (documented in its description). */
    optional: boolean;
    description: string;
    secret: boolean;
}

/** zod wraps a field in default/optional layers; the innermost type tells Pulumi.yaml's type. */
function unwrap(field: unknown): { type: string; defaultValue: unknown; optional: boolean; items: "string" | "object" } {
    let current = field as { def: { type: string; innerType?: unknown; in?: unknown; defaultValue?: unknown } };
    let defaultValue: unknown = undefined;
    let optional = false;
    while (["default", "optional", "pipe"].includes(current.def.type)) {
        if (current.def.type === "default") defaultValue = current.def.defaultValue;
        if (current.def.type === "optional") optional = true;
        current = (current.def.innerType ?? current.def.in) as typeof current;
    }
    const element = (current.def as { element?: { def: { type: string } } }).element;
    return { type: current.def.type, defaultValue, optional, items: element?.def.type === "object" ? ("object" as const) : ("string" as const) };
}

/** One entry per config key, from the schema: the source of Pulumi.yaml's block and the README table. */
export function configReference(): ConfigKeyDoc[] {
    return Object.entries(configSchema.shape).map(([key, field]) => {
        const { type, defaultValue, optional, items } = unwrap(field);
        return {
            key,
            type: type === "number" ? "integer" : type === "array" ? "array" : "string",
            ...(type === "array" ? { items } : {}),
            default: defaultValue === undefined ? "" : JSON.stringify(defaultValue),
            optional,
            description: field.description ?? "",
            secret: (secretKeys as readonly string[]).includes(key),
        };
    });
}

export function configReferenceMarkdown(): string {
    const rows = configReference().map((d) => `| \`${d.key}\`${d.secret ? " (secret)" : ""} | ${d.default ? `\`${d.default}\`` : ""} | ${d.description.replace(/\|/g, "\\|")} |`);
    return ["| key | default | description |", "|---|---|---|", ...rows].join("\n");
}

/**
 * The key's entry in Pulumi.yaml. The engine treats a declared key without a default as required,
 * so keys with a default carry it, and optional keys default to "" (read as "not set").
 */
export function pulumiYamlEntry(doc: ConfigKeyDoc): Record<string, unknown> {
    const entry: Record<string, unknown> = { type: doc.type };
    if (doc.type === "array") entry.items = { type: doc.items };
    entry.description = doc.description;
    if (doc.default !== "") entry.default = JSON.parse(doc.default);
    else if (doc.optional) entry.default = doc.type === "array" ? [] : "";
    return entry;
}

/** A README table of a list entry's settings, from its schema. */
function entryReferenceMarkdown(title: string, shape: Record<string, { description?: string }>): string {
    const rows = Object.entries(shape).map(([key, field]) => {
        const { defaultValue } = unwrap(field);
        return `| \`${key}\` | ${defaultValue === undefined ? "" : `\`${JSON.stringify(defaultValue)}\``} | ${(field.description ?? "").replace(/\|/g, "\\|")} |`;
    });
    return [`| ${title} | default | description |`, "|---|---|---|", ...rows].join("\n");
}

/** The README's table of a site's settings (an entry of `sites`), from the site schema. */
export const siteReferenceMarkdown = () => entryReferenceMarkdown("site key", siteSchema.shape);

/** The README's table of a server's settings (an entry of `servers`), from the server schema. */
export const serverReferenceMarkdown = () => entryReferenceMarkdown("server key", serverSchema.shape);
