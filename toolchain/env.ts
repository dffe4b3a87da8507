import { execFileSync } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";

export const repoRoot = path.resolve(__dirname, "..");

/** Cache for everything slow to build or fetch, outside the repo. */
export const cacheDir = process.env.SELFPAGES_CACHE ?? path.join(os.homedir(), ".cache", "selfpages");

/**
 * The environment the Pulumi CLI needs here: the CLI built from source (toolchain/build.sh) first
 * on PATH with its language host and dynamic-provider shim beside it, the provider plugins
 * installed into PULUMI_HOME, no update checks and no plugin downloads.
 * `pulumiHome` defaults to the user's own (PULUMI_HOME, or .pulumi in the home directory that
 * Pulumi itself uses: the user database's, not $HOME).
 */
export function toolchainEnv(pulumiHome?: string): Record<string, string> {
    const home = pulumiHome ?? process.env.PULUMI_HOME ?? path.join(os.userInfo().homedir, ".pulumi");
    const binDir = execFileSync("bash", [path.join(repoRoot, "toolchain", "install-plugins.sh")], {
        encoding: "utf8",
        env: { ...process.env, PULUMI_HOME: home },
        stdio: ["ignore", "pipe", "inherit"],
    }).trim();
    return {
        PATH: [binDir, path.join(repoRoot, "node_modules", ".bin"), process.env.PATH ?? ""].join(":"),
        PULUMI_HOME: home,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
}
