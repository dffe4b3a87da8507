import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { filesDir } from "../../lib/hostFiles";
import { renderTemplate } from "../../lib/templates";

/**
 * Fixtures for the tests that run the rendered sync script for real: a local origin (a bare repo
 * a work tree pushes gh-pages commits to), a site root, and the two shells the script must run
 * under (dash, as Debian's /bin/sh, and busybox ash with busybox applets only, as on Alpine).
 */

export const gzipExtensions = ["html", "htm", "css", "js", "mjs", "json", "xml", "svg", "txt", "map", "webmanifest", "ico", "wasm"];
export const repository = "do-it-ecm/do-it";

export function which(command: string): string | undefined {
    try {
        return execFileSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).trim() || undefined;
    } catch {
        return undefined;
    }
}

export const realGit = which("git") ?? "/usr/bin/git";

function mkTemp(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `selfpages-${prefix}-`));
}

function git(cwd: string, args: string[]): string {
    return execFileSync(realGit, args, {
        cwd,
        encoding: "utf8",
        env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", LC_ALL: "C" },
    }).trim();
}

/** A shell the script runs under: the interpreter and the PATH it gets. */
export interface Shell {
    name: string;
    /** argv[0] and leading arguments, before the script path. */
    command: string[];
    /** Directories put first in PATH (the test double for git comes before these). */
    path: string[];
    /** Why a tool is not the shell's own (printed once). */
    notes: string[];
}

/**
 * A directory with one symlink per busybox applet, the real git and brotli, and, when this busybox has no
 * flock applet (Debian's busybox package lacks it; Alpine's has it), a stand-in that accepts only
 * the busybox applet's interface (`flock [-sxun] FD`) and runs util-linux flock.
 */
export function busyboxShell(root: string): Shell | undefined {
    const busybox = which("busybox");
    if (!busybox) return undefined;
    const dir = path.join(root, "busybox-bin");
    fs.mkdirSync(dir, { recursive: true });
    const applets = execFileSync(busybox, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean);
    for (const applet of applets) fs.symlinkSync(busybox, path.join(dir, applet));
    fs.symlinkSync(realGit, path.join(dir, "git"));
    // Alpine ships brotli as its own package, as git: the real CLI beside the applets.
    const brotli = which("brotli");
    if (!brotli) return undefined;
    fs.symlinkSync(brotli, path.join(dir, "brotli"));
    const notes: string[] = [];
    if (!applets.includes("flock")) {
        const flock = which("flock");
        if (!flock) return undefined;
        fs.writeFileSync(
            path.join(dir, "flock"),
            [
                "#!/bin/sh",
                "# busybox flock's interface only: [-sxun] FD",
                'case "$#:$1" in',
                `1:[0-9]*) exec ${flock} "$1" ;;`,
                `2:-[sxun]|2:-[sxun][sxun]) case "$2" in [0-9]*) exec ${flock} "$1" "$2" ;; esac ;;`,
                "esac",
                'echo "flock: usage not supported by busybox flock: $*" >&2',
                "exit 64",
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
        notes.push(`this busybox has no flock applet: util-linux flock (restricted to busybox flock's options) stands in`);
    }
    return { name: "busybox ash", command: [busybox, "sh"], path: [dir], notes };
}

export function dashShell(): Shell | undefined {
    const dash = which("dash");
    return dash ? { name: "dash", command: [dash], path: [], notes: [] } : undefined;
}

/**
 * A `git` placed first in PATH that runs the real git, except that a file `pause-<subcommand>` in
 * the control directory holds that subcommand (up to 20 s) and `fail-<subcommand>` makes it fail.
 * It writes `paused-<subcommand>` when it starts holding, so a test knows a sync is under way.
 */
function gitDouble(dir: string, control: string): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
        path.join(dir, "git"),
        [
            "#!/bin/sh",
            "sub=''",
            "skip=0",
            'for a in "$@"; do',
            '\tif [ "$skip" = 1 ]; then skip=0; continue; fi',
            '\tcase "$a" in -c) skip=1 ;; -*) ;; *) sub=$a; break ;; esac',
            "done",
            `control=${JSON.stringify(control)}`,
            'if [ -n "$sub" ] && [ -f "$control/fail-$sub" ]; then echo "test double: git $sub fails" >&2; exit 1; fi',
            'if [ -n "$sub" ] && [ -f "$control/pause-$sub" ]; then',
            '\t: >"$control/paused-$sub"',
            "\ti=0",
            '\twhile [ -f "$control/pause-$sub" ] && [ "$i" -lt 400 ]; do sleep 0.05; i=$((i + 1)); done',
            "fi",
            `exec ${realGit} "$@"`,
            "",
        ].join("\n"),
        { mode: 0o755 },
    );
}

export interface RunResult {
    code: number | null;
    stdout: string;
    stderr: string;
    ms: number;
}

/** Publishes commits to gh-pages of a local bare repository, like a CI pushing a built site. */
export class Origin {
    readonly bare: string;
    readonly work: string;

    constructor(root: string) {
        this.bare = path.join(root, "origin.git");
        this.work = path.join(root, "work");
        git(root, ["init", "-q", "--bare", "-b", "gh-pages", this.bare]);
        git(root, ["init", "-q", "-b", "gh-pages", this.work]);
        git(this.work, ["config", "user.name", "Publisher"]);
        git(this.work, ["config", "user.email", "publisher@example.invalid"]);
    }

    /** Writes (string/Buffer), deletes (null) or symlinks ({ symlink }) files, commits, pushes; returns the sha. */
    publish(files: Record<string, string | Buffer | null | { symlink: string }>, message = "publish", branch = "gh-pages"): string {
        git(this.work, ["checkout", "-q", "-B", branch]);
        for (const [name, content] of Object.entries(files)) {
            const file = path.join(this.work, name);
            if (content === null) {
                fs.rmSync(file, { force: true });
                continue;
            }
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.rmSync(file, { force: true });
            if (typeof content === "object" && !Buffer.isBuffer(content)) fs.symlinkSync(content.symlink, file);
            else fs.writeFileSync(file, content);
        }
        git(this.work, ["add", "-A"]);
        git(this.work, ["commit", "-q", "--allow-empty", "-m", message]);
        git(this.work, ["push", "-q", "-f", this.bare, `${branch}:${branch}`]);
        const sha = git(this.work, ["rev-parse", "HEAD"]);
        git(this.work, ["checkout", "-q", "gh-pages"]);
        return sha;
    }

    /** Extracts `git archive` of a commit: what a release must hold, apart from our files. */
    archive(sha: string, into: string): void {
        fs.mkdirSync(into, { recursive: true });
        execFileSync("sh", ["-c", `${realGit} -C "$1" archive --format=tar "$2" | tar -x -C "$3"`, "sh", this.work, sha, into]);
    }
}

/** What a test may set of the script's parameters (the rest are the host's paths). */
export interface SyncOptions {
    keepReleases?: number;
    gzipMinBytes?: number;
    cloneUrl?: (origin: Origin) => string;
    /** FOLDER: "" (default) for the whole commit, or one directory name. */
    folder?: string;
    /** PIN: "" (default) or a commit. */
    pin?: string;
}

/** A rendered script, its site root, state and log, and the shell it runs under. */
export class SyncHost {
    readonly root: string;
    readonly script: string;
    readonly config: string;
    readonly siteRoot: string;
    readonly stateDir: string;
    readonly logFile: string;
    readonly control: string;
    readonly origin: Origin;
    private readonly children = new Set<ChildProcess>();
    private readonly groups = new Set<ChildProcess>();

    constructor(
        readonly shell: Shell,
        private options: SyncOptions = {},
    ) {
        this.root = mkTemp("sync");
        this.origin = new Origin(this.root);
        this.siteRoot = path.join(this.root, "srv", "selfpages");
        this.stateDir = path.join(this.root, "var", "lib", "selfpages");
        // Not created: the script creates the log directory.
        this.logFile = path.join(this.root, "var", "log", "selfpages", "sync.log");
        this.control = path.join(this.root, "control");
        fs.mkdirSync(this.control);
        fs.mkdirSync(this.siteRoot, { recursive: true });
        gitDouble(path.join(this.root, "double"), this.control);
        // The program as it ships, and its parameters rendered for this directory.
        this.script = path.join(this.root, "sync");
        fs.copyFileSync(path.join(filesDir, "sync.sh"), this.script);
        fs.chmodSync(this.script, 0o755);
        this.config = path.join(this.root, "sync.conf");
        fs.writeFileSync(this.config, this.render(options));
    }

    /** Renders sync.conf again with these options changed, as `pulumi up` does after a config change. */
    configure(changes: SyncOptions): void {
        this.options = { ...this.options, ...changes };
        fs.writeFileSync(this.config, this.render(this.options));
    }

    render(options: SyncOptions = {}): string {
        return renderTemplate("sync.conf", {
            repository,
            branch: "gh-pages",
            cloneUrl: options.cloneUrl ? options.cloneUrl(this.origin) : this.origin.bare,
            siteRoot: this.siteRoot,
            stateDir: this.stateDir,
            logFile: this.logFile,
            // Absent unless a test installs a reporter there (test/templates/deployReport.test.ts).
            deployReport: path.join(this.root, "deploy-report"),
            keepReleases: options.keepReleases ?? 3,
            gzipExtensions,
            gzipMinBytes: options.gzipMinBytes ?? 256,
            folder: options.folder ?? "",
            pin: options.pin ?? "",
        });
    }

    env(): NodeJS.ProcessEnv {
        const dirs = [path.join(this.root, "double"), ...this.shell.path];
        // Under busybox, nothing but its applets and git: no GNU tool can slip in.
        const rest = this.shell.path.length > 0 ? [] : [process.env.PATH ?? "/usr/bin:/bin"];
        return { HOME: this.root, PATH: [...dirs, ...rest].join(":"), LANG: "C", SELFPAGES_SYNC_CONF: this.config };
    }

    /** Starts the script; resolves when it exits. */
    start(args: string[], options: { detached?: boolean } = {}): { child: ChildProcess; done: Promise<RunResult> } {
        const started = Date.now();
        const [command, ...leading] = this.shell.command;
        const child = spawn(command, [...leading, this.script, ...args], { env: this.env(), cwd: this.root, stdio: ["ignore", "pipe", "pipe"], detached: options.detached });
        this.children.add(child);
        if (options.detached) this.groups.add(child);
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (d) => (stdout += d));
        child.stderr!.on("data", (d) => (stderr += d));
        const done = new Promise<RunResult>((resolve, reject) => {
            child.once("error", reject);
            child.once("close", (code) => {
                this.children.delete(child);
                resolve({ code, stdout, stderr, ms: Date.now() - started });
            });
        });
        return { child, done };
    }

    run(...args: string[]): Promise<RunResult> {
        return this.start(args).done;
    }

    /** Runs a shell command line (under the same shell and PATH), e.g. a reader loop. */
    spawnShell(commandLine: string): ChildProcess {
        const [command, ...leading] = this.shell.command;
        const child = spawn(command, [...leading, "-c", commandLine], { env: this.env(), stdio: ["ignore", "pipe", "pipe"] });
        this.children.add(child);
        child.once("close", () => this.children.delete(child));
        return child;
    }

    get current(): string {
        return path.join(this.siteRoot, "current");
    }

    /** The release `current` points to, as "releases/<id>". */
    currentTarget(): string {
        return fs.readlinkSync(this.current);
    }

    currentCommit(): string {
        return fs.readFileSync(path.join(this.current, ".selfpages-commit"), "utf8").trim();
    }

    releases(): string[] {
        const dir = path.join(this.siteRoot, "releases");
        return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
    }

    releaseDir(name: string): string {
        return path.join(this.siteRoot, "releases", name);
    }

    log(): string {
        return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, "utf8") : "";
    }

    /** Log lines that end a sync: one per sync that ran. */
    outcomes(since = 0): string[] {
        return this.log()
            .split("\n")
            .slice(since)
            .filter((line) => / sync\[[^\]]*\] (deployed|up to date|error: .* failed)/.test(line));
    }

    logLineCount(): number {
        return this.log().split("\n").filter(Boolean).length;
    }

    private setControl(name: string, on: boolean): void {
        const file = path.join(this.control, name);
        if (on) fs.writeFileSync(file, "");
        else fs.rmSync(file, { force: true });
    }

    pause(subcommand: string, on: boolean): void {
        this.setControl(`pause-${subcommand}`, on);
        if (on) fs.rmSync(path.join(this.control, `paused-${subcommand}`), { force: true });
    }

    async waitPaused(subcommand: string, timeoutMs = 10_000): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        while (!fs.existsSync(path.join(this.control, `paused-${subcommand}`))) {
            if (Date.now() > deadline) throw new Error(`git ${subcommand} never started`);
            await new Promise((resolve) => setTimeout(resolve, 20));
        }
    }

    fail(subcommand: string, on: boolean): void {
        this.setControl(`fail-${subcommand}`, on);
    }

    repoGit(args: string[]): string {
        return git(this.root, ["--git-dir", path.join(this.siteRoot, "repo.git"), ...args]);
    }

    async cleanup(): Promise<void> {
        for (const child of this.children) {
            if (child.pid === undefined) continue;
            try {
                // A detached child leads its own process group: end the group (its git too).
                process.kill(this.groups.has(child) ? -child.pid : child.pid, "SIGKILL");
            } catch {
                // already gone
            }
        }
        fs.rmSync(this.root, { recursive: true, force: true });
    }
}

export interface Entry {
    type: "file" | "symlink" | "dir";
    /** File content (base64 of the bytes), or the link target. */
    content?: string;
    executable?: boolean;
}

/** Every path under dir (relative), with its type and content; `skip` filters relative paths. */
export function snapshot(dir: string, skip: (rel: string) => boolean = () => false): Map<string, Entry> {
    const out = new Map<string, Entry>();
    const walk = (rel: string) => {
        for (const name of fs.readdirSync(path.join(dir, rel))) {
            const r = rel ? `${rel}/${name}` : name;
            if (skip(r)) continue;
            const full = path.join(dir, r);
            const st = fs.lstatSync(full);
            if (st.isSymbolicLink()) out.set(r, { type: "symlink", content: fs.readlinkSync(full) });
            else if (st.isDirectory()) {
                out.set(r, { type: "dir" });
                walk(r);
            } else out.set(r, { type: "file", content: fs.readFileSync(full).toString("base64"), executable: (st.mode & 0o100) !== 0 });
        }
    };
    walk("");
    return out;
}

export function inode(file: string): number {
    return fs.lstatSync(file).ino;
}

/** Text of at least `bytes` bytes, distinct per `seed`, compressible. */
export function text(seed: string, bytes = 2000): string {
    let out = "";
    for (let i = 0; out.length < bytes; i++) out += `${seed} line ${i}: the quick brown fox jumps over the lazy dog\n`;
    return out;
}

export function binary(bytes: number, seed = 1): Buffer {
    const out = Buffer.alloc(bytes);
    let x = seed * 2654435761;
    for (let i = 0; i < bytes; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        out[i] = x >>> 24;
    }
    return out;
}
