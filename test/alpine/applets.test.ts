import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { platforms } from "../../lib/platform";
import { alpineAvailable, extractMinirootfs, rootfsBusybox } from "./packaging";
import { type CommandCall, shellCommands, templateValue, withoutMustaches } from "./shellCommands";

/**
 * Every command the shipped shell programs call exists on Alpine with the options they give it:
 * a busybox applet of the 3.20.3 minirootfs's own busybox (the authority for its build options:
 * each option is given to the applet, alone in an empty directory, and must not be refused as
 * unrecognized; find's primaries are read from its --help), a shell builtin, or the binary of a
 * package in the list.
 */

const repoRoot = path.resolve(__dirname, "../..");
// ash's builtins: no binary needed.
const builtins = new Set(["set", ".", ":", "export", "umask", "cd", "exec", "echo", "exit", "printf", "true", "false", "return", "continue", "break", "read", "test", "[", "eval", "shift", "trap", "wait", "local", "command", "type", "kill", "getopts", "unset", "readonly"]);
// Outside busybox: the package of the list that provides each.
const packaged: Record<string, string> = { git: "git", brotli: "brotli", curl: "curl", uacme: "uacme", openssl: "openssl", nginx: "nginx", "rc-service": "openrc", "update-ca-certificates": "ca-certificates", ssh: "openssh-client-default" };
// Installed only where needed (a fleet's peers: components/certificateSharing.ts), not from the package list.
const installedWhereNeeded = platforms.alpine.sshClientInstallCommand.split(/\s+/);
// Run the command given after their own options.
const wrappers = new Set(["exec", "nice", "xargs", "env", "nohup", "timeout"]);

/** Every shell program the project ships: a file in files/ or templates/ that starts `#!/bin/sh`. */
function shellPrograms(): { file: string; text: string }[] {
    return ["files", "templates"].flatMap((dir) =>
        fs
            .readdirSync(path.join(repoRoot, dir))
            .map((name) => path.join(dir, name))
            .filter((file) => fs.readFileSync(path.join(repoRoot, file), "utf8").startsWith("#!/bin/sh"))
            .map((file) => {
                const text = fs.readFileSync(path.join(repoRoot, file), "utf8");
                return { file, text: file.endsWith(".hbs") ? withoutMustaches(text) : text };
            }),
    );
}

interface AppletHelp {
    /** Letters whose option takes a value (`-n N` in the help): the value is not an option. */
    takesValue: Set<string>;
    /** Option words as the help writes them (find's primaries: `-prune`, `-exec`). */
    words: Set<string>;
}

function parseHelp(help: string): AppletHelp {
    const takesValue = new Set<string>();
    const words = new Set<string>();
    for (const m of help.matchAll(/(?:^|[\s[|])(--?[A-Za-z0-9][\w-]*)(=?)( [A-Z][A-Z0-9_]*\b)?/gm)) {
        words.add(m[1]);
        if (/^-[A-Za-z0-9]$/.test(m[1]) && (m[2] || m[3])) takesValue.add(m[1][1]);
    }
    return { takesValue, words };
}

describe.skipIf(!alpineAvailable)("the shell programs' commands on Alpine's busybox", () => {
    let root: string;
    let empty: string;
    let applets: Set<string>;
    const helps = new Map<string, AppletHelp>();
    const helpOf = (applet: string) => {
        if (!helps.has(applet)) helps.set(applet, parseHelp(rootfsBusybox(root, [applet, "--help"]).stderr));
        return helps.get(applet) as AppletHelp;
    };
    const refused = new Map<string, boolean>();
    /** The applet itself says: given alone, is the option unrecognized? (musl's getopt says so.) */
    const refuses = (applet: string, option: string) => {
        const key = `${applet} ${option}`;
        if (!refused.has(key)) refused.set(key, /unrecognized option/.test(rootfsBusybox(root, [applet, option], empty).stderr));
        return refused.get(key) as boolean;
    };

    beforeAll(() => {
        root = extractMinirootfs(["bin/busybox", "lib/ld-musl-x86_64.so.1"]);
        empty = fs.mkdtempSync(path.join(root, "empty-"));
        applets = new Set(rootfsBusybox(root, ["--list"]).stdout.split("\n").filter(Boolean));
    });
    afterAll(() => {
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    /** What is wrong with one call (and the calls it runs): "" when nothing. */
    function problems(call: CommandCall, functions: Set<string>, where: string): string[] {
        const at = `${where}:${call.line}: ${call.name}`;
        const { name, args } = call;
        // A path the template fills in: the project's own program.
        if (functions.has(name) || name === templateValue) return [];
        if (name === "command") return args[0] === "-v" ? [] : problems({ ...call, name: args[0] ?? "", args: args.slice(1) }, functions, where);
        if (name === "exec" && args.length > 0) return args[0] ? problems({ ...call, name: args[0], args: args.slice(1) }, functions, where) : [];
        if (builtins.has(name)) return [];
        if (packaged[name]) return platforms.alpine.packages.includes(packaged[name]) || installedWhereNeeded.includes(packaged[name]) ? [] : [`${at}: package ${packaged[name]} is not in the list`];
        if (!applets.has(name)) return [`${at}: neither a busybox applet, a builtin, nor a listed package's`];

        const help = helpOf(name);
        const found: string[] = [];
        const isFind = name === "find";
        let i = 0;
        for (; i < args.length; i++) {
            const word = args[i];
            if (word === undefined) {
                if (isFind) continue;
                break;
            }
            if (word === "--") {
                i++;
                break;
            }
            if (!word.startsWith("-") || word === "-") {
                if (isFind) continue;
                break;
            }
            if (isFind) {
                if (!help.words.has(word)) found.push(`${at}: no primary ${word}`);
                if (word === "-exec") {
                    const end = args.findIndex((a, j) => j > i && (a === ";" || a === "+"));
                    found.push(...problems({ ...call, name: args[i + 1] ?? "", args: args.slice(i + 2, end < 0 ? undefined : end) }, functions, where));
                    i = end < 0 ? args.length : end;
                }
                continue;
            }
            if (word.startsWith("--")) {
                if (refuses(name, word.split("=")[0])) found.push(`${at}: no option ${word}`);
                continue;
            }
            for (let c = 1; c < word.length; c++) {
                const letter = word[c];
                if (refuses(name, `-${letter}`)) {
                    found.push(`${at}: no option -${letter} (in ${word})`);
                    break;
                }
                if (help.takesValue.has(letter)) {
                    if (c === word.length - 1) i++;
                    break;
                }
            }
        }
        const rest = args.slice(i);
        if (wrappers.has(name) && rest[0]) found.push(...problems({ ...call, name: rest[0], args: rest.slice(1) }, functions, where));
        // sh -c SCRIPT: the script's own commands.
        if (name === "sh" && args[0] === "-c" && args[1]) {
            const inner = shellCommands(args[1]);
            for (const c of inner.calls) found.push(...problems(c, new Set([...functions, ...inner.functions]), `${where} (sh -c)`));
        }
        return found;
    }

    it("finds the programs and, in them, the commands they cannot run without", () => {
        const programs = shellPrograms();
        expect(programs.map((p) => p.file)).toEqual(expect.arrayContaining(["files/sync.sh"]));
        const names = new Set(programs.flatMap((p) => shellCommands(p.text).calls.map((c) => c.name)));
        // The scan reads what it must: the lock, the clone, the reporter's HTTP client.
        expect([...names]).toEqual(expect.arrayContaining(["flock", "git", "find", "xargs", "date"]));
    });

    it("each command is a builtin, an applet given only options this busybox build has, or a listed package's", () => {
        const found: string[] = [];
        for (const { file, text } of shellPrograms()) {
            const { calls, functions } = shellCommands(text);
            for (const call of calls) found.push(...problems(call, functions, file));
        }
        expect(found).toEqual([]);
    });

    it("a call the build lacks is caught (the check can fail)", () => {
        const { calls, functions } = shellCommands("flock -n 9\nmv -Z a b\ngetent passwd x\nstat --no-such-option x\n");
        const found = calls.flatMap((c) => problems(c, functions, "probe"));
        expect(found).toEqual([
            "probe:2: mv: no option -Z (in -Z)",
            "probe:3: getent: neither a busybox applet, a builtin, nor a listed package's",
            "probe:4: stat: no option --no-such-option",
        ]);
    });
});
