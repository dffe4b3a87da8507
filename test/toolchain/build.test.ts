import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../lib/fixtures";

// A clone from GitHub: no source snapshots, an empty cache, and either no `pulumi` or one
// installed the usual way (a stand-in script here: the tests run offline).
const work = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-toolchain-"));
const sdkVersion = (JSON.parse(fs.readFileSync(path.join(repoRoot, "node_modules", "@pulumi", "pulumi", "package.json"), "utf8")) as { version: string }).version;
const goDir = path.dirname(spawnSync("bash", ["-c", "command -v go"], { encoding: "utf8" }).stdout.trim() || "/usr/local/go/bin/go");

/** A directory holding a `pulumi` of that version that logs its plugin installs; undefined: none. */
function fakePulumi(name: string, version: string, pluginInstall: "works" | "fails" = "works"): string {
    const bin = path.join(work, name);
    fs.mkdirSync(bin, { recursive: true });
    const script = `#!/bin/sh
case "$1" in
version) echo v${version} ;;
plugin) [ ${pluginInstall} = works ] || { echo "error: could not download" >&2; exit 1; }
    echo "$*" >>"${bin}/installs"
    mkdir -p "$PULUMI_HOME/plugins/resource-$4-v$5" && printf '#!/bin/sh\\n' >"$PULUMI_HOME/plugins/resource-$4-v$5/pulumi-resource-$4" && chmod +x "$PULUMI_HOME/plugins/resource-$4-v$5/pulumi-resource-$4" ;;
esac
`;
    fs.writeFileSync(path.join(bin, "pulumi"), script, { mode: 0o755 });
    return bin;
}

function run(script: "build.sh" | "install-plugins.sh", pathDirs: string[], home = path.join(work, "home")) {
    const result = spawnSync("bash", [path.join(repoRoot, "toolchain", script)], {
        encoding: "utf8",
        env: {
            PATH: [...pathDirs, goDir, "/usr/sbin", "/usr/bin", "/sbin", "/bin"].join(":"),
            HOME: work,
            SELFPAGES_THIRD_PARTY: path.join(work, "no-snapshots"),
            SELFPAGES_CACHE: path.join(work, "cache"),
            PULUMI_HOME: home,
        },
    });
    return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

describe("toolchain without the source snapshots", () => {
    afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

    it("says in one line what to install and which variable to set, with no pulumi on PATH", () => {
        const result = run("build.sh", []);
        expect(result.status).toBe(1);
        const last = result.stderr.split("\n").at(-1) ?? "";
        expect(last).toContain(`install Pulumi ${sdkVersion}`);
        expect(last).toContain("SELFPAGES_THIRD_PARTY");
        expect(result.stderr).not.toContain("missing source snapshot");
        expect(result.stdout).toBe("");
    });

    it("uses the pulumi on PATH when its version can run the SDK", () => {
        const bin = fakePulumi("same", sdkVersion);
        const result = run("build.sh", [bin]);
        expect(result.status).toBe(0);
        expect(result.stdout).toBe(bin);
        expect(result.stderr).toContain(`using ${bin}/pulumi`);
        const newer = fakePulumi("newer", sdkVersion.replace(/^(\d+)\.(\d+)\./, (_, major: string, minor: string) => `${major}.${Number(minor) + 1}.`));
        expect(run("build.sh", [newer]).stdout).toBe(newer);
    });

    it("refuses an older or other-major pulumi, naming both versions", () => {
        for (const version of ["3.100.0", "4.0.0"]) {
            const result = run("build.sh", [fakePulumi(`v${version}`, version)]);
            expect(result.status).toBe(1);
            expect(result.stderr).toContain(`is Pulumi ${version}; @pulumi/pulumi ${sdkVersion} needs`);
        }
    });

    it("installs the command and random plugins of package.json's versions once, through that pulumi", () => {
        const bin = fakePulumi("plugins", sdkVersion);
        const home = path.join(work, "plugins-home");
        const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { dependencies: Record<string, string> };
        expect(run("install-plugins.sh", [bin], home)).toMatchObject({ status: 0, stdout: bin });
        expect(run("install-plugins.sh", [bin], home)).toMatchObject({ status: 0, stdout: bin });
        expect(fs.readFileSync(path.join(bin, "installs"), "utf8").trim().split("\n")).toEqual([
            `plugin install resource command ${pkg.dependencies["@pulumi/command"]}`,
            `plugin install resource random ${pkg.dependencies["@pulumi/random"]}`,
        ]);
    });

    it("says how to install a plugin it cannot download", () => {
        const result = run("install-plugins.sh", [fakePulumi("offline", sdkVersion, "fails")], path.join(work, "offline-home"));
        expect(result.status).toBe(1);
        expect(result.stderr.split("\n").at(-1)).toMatch(/the command [\d.]+ plugin is neither installed nor downloadable: run `pulumi plugin install resource command [\d.]+`/);
    });
});
