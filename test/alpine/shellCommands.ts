import { execFileSync } from "node:child_process";

/** One call of an external command in a shell program: its name and literal words, in order. */
export interface CommandCall {
    name: string;
    /** The words after the name; undefined where a word is not literal (a variable, a $(...)). */
    args: (string | undefined)[];
    line: number;
}

// shfmt's syntax tree (--to-json), only the parts read here.
interface Node {
    Type?: string;
    Value?: string;
    Parts?: Node[];
    Args?: Node[];
    Name?: Node;
    Pos?: { Line: number };
    [key: string]: unknown;
}

/** The word a template's value reads as once its mustaches are out of the way. */
export const templateValue = "selfpages_template_value";
/** A template's mustaches out of the way: block tags vanish, values read as one plain word. */
export const withoutMustaches = (text: string) => text.replace(/\{\{[#/^][^}]*\}\}/g, "").replace(/\{\{[^}]*\}\}/g, templateValue);

function literal(word: Node): string | undefined {
    let text = "";
    for (const part of word.Parts ?? []) {
        if (part.Type === "Lit" || part.Type === "SglQuoted") text += part.Value ?? "";
        else if (part.Type === "DblQuoted" && (part.Parts ?? []).every((p) => p.Type === "Lit")) text += (part.Parts ?? []).map((p) => p.Value ?? "").join("");
        else return undefined;
    }
    return text;
}

/**
 * Every simple command in a POSIX sh program, parsed by shfmt (the shell parser of mvdan/sh), and
 * the names of the functions it defines (calls to those are the program's own).
 */
export function shellCommands(program: string): { calls: CommandCall[]; functions: Set<string> } {
    const tree = JSON.parse(execFileSync("shfmt", ["--to-json", "-ln", "posix"], { input: program, encoding: "utf8", maxBuffer: 64 << 20 })) as Node;
    const calls: CommandCall[] = [];
    const functions = new Set<string>();
    const walk = (node: unknown): void => {
        if (Array.isArray(node)) return node.forEach(walk);
        if (!node || typeof node !== "object") return;
        const n = node as Node;
        if (n.Type === "FuncDecl" && n.Name?.Value) functions.add(n.Name.Value);
        if (n.Type === "CallExpr" && n.Args?.length) {
            const [name, ...args] = n.Args.map(literal);
            if (name) calls.push({ name, args, line: n.Pos?.Line ?? 0 });
        }
        for (const value of Object.values(n)) walk(value);
    };
    walk(tree);
    return { calls, functions };
}
