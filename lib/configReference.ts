import { configSchema, secretKeys } from "./config";

export interface ConfigKeyDoc {
    key: string;
    type: "string" | "integer" | "array";
    default: string;
    description: string;
    secret: boolean;
}

/** zod wraps a field in default/optional layers; the innermost type tells Pulumi.yaml's type. */
function unwrap(field: unknown): { type: string; defaultValue: unknown } {
    let current = field as { def: { type: string; innerType?: unknown; in?: unknown; defaultValue?: unknown } };
    let defaultValue: unknown = undefined;
    while (["default", "optional", "pipe"].includes(current.def.type)) {
        if (current.def.type === "default") defaultValue = current.def.defaultValue;
        current = (current.def.innerType ?? current.def.in) as typeof current;
    }
    return { type: current.def.type, defaultValue };
}

/** One entry per config key, from the schema: the source of Pulumi.yaml's block and the README table. */
export function configReference(): ConfigKeyDoc[] {
    return Object.entries(configSchema.shape).map(([key, field]) => {
        const { type, defaultValue } = unwrap(field);
        return {
            key,
            type: type === "number" ? "integer" : type === "array" ? "array" : "string",
            default: defaultValue === undefined ? "" : JSON.stringify(defaultValue),
            description: field.description ?? "",
            secret: (secretKeys as readonly string[]).includes(key),
        };
    });
}

export function configReferenceMarkdown(): string {
    const rows = configReference().map((d) => `| \`${d.key}\`${d.secret ? " (secret)" : ""} | ${d.default ? `\`${d.default}\`` : ""} | ${d.description.replace(/\|/g, "\\|")} |`);
    return ["| key | default | description |", "|---|---|---|", ...rows].join("\n");
}
