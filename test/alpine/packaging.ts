import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * Alpine's own packaging, read where CI lays it beside the clone (../shared/third_party/alpine, see
 * its README for the commit each file was read at and which are exactly 3.20). Read, never copied.
 */
export const alpineDir = path.resolve(__dirname, "../../../shared/third_party/alpine");
export const aportsDir = path.join(alpineDir, "aports");
export const minirootfsTarball = path.join(alpineDir, "alpine-minirootfs-3.20.3-x86_64.tar.gz");
export const alpineAvailable = fs.existsSync(aportsDir) && fs.existsSync(minirootfsTarball);

export type Repository = "main" | "community";

export interface Apkbuild {
    repository: Repository;
    aport: string;
    file: string;
    text: string;
    pkgname: string;
    pkgver: string;
    /** Subpackage names (the part before the first ':'), as the APKBUILD computes them. */
    subpackages: string[];
    /** depends, makedepends, makedepends_host and depends_dev, as words. */
    buildInputs: string[];
    /** Shell variables asked for by name (evaluated by sourcing the APKBUILD, as abuild does). */
    vars: Record<string, string>;
    /** Body of a shell function the APKBUILD defines, as bash prints it. */
    functionBody: (name: string) => string;
}

/**
 * Sources the APKBUILD in bash (abuild sources it the same way: top-level code such as nginx's
 * `_add_module` loop builds `subpackages`) with CARCH x86_64, and prints the variables asked for.
 */
function sourceApkbuild(file: string, extraVars: string[]): { vars: Record<string, string>; functions: string } {
    const names = ["pkgname", "pkgver", "subpackages", "depends", "makedepends", "makedepends_host", "depends_dev", ...extraVars];
    const script = [
        'CARCH=x86_64; CBUILD=x86_64-alpine-linux-musl; CHOST=$CBUILD; srcdir=/nonexistent; pkgdir=/nonexistent; startdir=$(dirname "$1")',
        '. "$1" >/dev/null 2>&1',
        ...names.map((n) => `printf '%s\\0%s\\0' ${n} "$${n}"`),
        "printf 'functions\\0'; declare -f; printf '\\0'",
    ].join("\n");
    const out = execFileSync("bash", ["--norc", "--noprofile", "-c", script, "apkbuild", file], { cwd: os.tmpdir(), encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
    const fields = out.split("\0");
    const vars: Record<string, string> = {};
    let functions = "";
    for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === "functions") functions = fields[i + 1];
        else vars[fields[i]] = fields[i + 1];
    }
    return { vars, functions };
}

const words = (value: string | undefined) => (value ?? "").split(/\s+/).filter(Boolean);

export function readApkbuild(repository: Repository, aport: string, extraVars: string[] = []): Apkbuild {
    const file = path.join(aportsDir, repository, aport, "APKBUILD");
    const { vars, functions } = sourceApkbuild(file, extraVars);
    return {
        repository,
        aport,
        file,
        text: fs.readFileSync(file, "utf8"),
        pkgname: vars.pkgname,
        pkgver: vars.pkgver,
        subpackages: words(vars.subpackages).map((s) => s.split(":")[0]),
        buildInputs: ["depends", "makedepends", "makedepends_host", "depends_dev"].flatMap((k) => words(vars[k])),
        vars,
        functionBody: (name) => {
            const start = functions.search(new RegExp(`^${name} \\(\\)\\s*$`, "m"));
            if (start < 0) return "";
            const end = functions.indexOf("\n}\n", start);
            return functions.slice(start, end < 0 ? undefined : end + 2);
        },
    };
}

/** Every APKBUILD stored, with the repository its folder says. */
export function allApkbuilds(): Apkbuild[] {
    return (["main", "community"] as const).flatMap((repository) =>
        fs
            .readdirSync(path.join(aportsDir, repository))
            .filter((aport) => fs.existsSync(path.join(aportsDir, repository, aport, "APKBUILD")))
            .map((aport) => readApkbuild(repository, aport)),
    );
}

export interface InstalledPackage {
    name: string;
    version: string;
    origin: string;
    /** Installed paths, without a leading slash. */
    files: string[];
}

/** apk's database of what is installed (lib/apk/db/installed): one block a package. */
export function parseInstalledDb(text: string): InstalledPackage[] {
    return text
        .split(/\n\n+/)
        .filter((block) => block.includes("P:"))
        .map((block) => {
            const pkg: InstalledPackage = { name: "", version: "", origin: "", files: [] };
            let dir = "";
            for (const line of block.split("\n")) {
                const [key, value] = [line.slice(0, 1), line.slice(2)];
                if (key === "P") pkg.name = value;
                else if (key === "V") pkg.version = value;
                else if (key === "o") pkg.origin = value;
                else if (key === "F") dir = value;
                else if (key === "R") pkg.files.push(dir ? `${dir}/${value}` : value);
            }
            return pkg;
        });
}

/** Extracts the whole minirootfs (or only `members`) into a new temp dir; the caller removes it. */
export function extractMinirootfs(members: string[] = []): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-alpine-"));
    execFileSync("tar", ["-xzf", minirootfsTarball, "-C", dir, ...members.map((m) => `./${m}`)]);
    return dir;
}

/**
 * Runs the minirootfs's busybox without a chroot: musl's dynamic loader is also its libc, the
 * binary's only library, so it runs from the extracted tree as any user. stdin is empty.
 */
export function rootfsBusybox(root: string, args: string[], cwd?: string): { stdout: string; stderr: string; status: number } {
    const r = spawnSync(path.join(root, "lib/ld-musl-x86_64.so.1"), [path.join(root, "bin/busybox"), ...args], { encoding: "utf8", input: "", cwd, timeout: 5_000 });
    return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? 1 };
}
