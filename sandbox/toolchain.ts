import { execFileSync } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";

export const repoRoot = path.resolve(__dirname, "..");

/** Cache for everything slow to build or fetch, outside the repo. */
export const cacheDir = process.env.SELFPAGES_CACHE ?? path.join(os.homedir(), ".cache", "selfpages");

/**
 * The environment the Pulumi CLI needs here: the binaries built from Go modules (toolchain/)
 * first on PATH, no update checks, no plugin downloads.
 */
export function toolchainEnv(): Record<string, string> {
    const binDir = execFileSync("bash", [path.join(repoRoot, "toolchain", "build.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
    return {
        PATH: [binDir, path.join(repoRoot, "node_modules", "@pulumi", "pulumi"), path.join(repoRoot, "node_modules", ".bin"), process.env.PATH ?? ""].join(":"),
        PULUMI_HOME: process.env.PULUMI_HOME ?? path.join(cacheDir, "pulumi-home"),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
}
