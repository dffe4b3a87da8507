import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../../toolchain/env";

/** The stand-in as a process that outlives the script that started it (`npm run sandbox`). */
export interface StandinDaemon {
    apiUrl: string;
    tokenFile: string;
    logFile: string;
}

const files = (stateDir: string) => ({
    pid: path.join(stateDir, "github-standin.pid"),
    info: path.join(stateDir, "github-standin.json"),
    log: path.join(stateDir, "github-standin.log"),
    token: path.join(stateDir, "github-token"),
    deploymentsToken: path.join(stateDir, "github-deployments-token"),
});

/** The token a running (or earlier) daemon was given, so that a second run keeps the stack's. */
export function daemonToken(stateDir: string, kind: "token" | "deploymentsToken"): string | undefined {
    const file = files(stateDir)[kind];
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
}

function running(stateDir: string): string | undefined {
    const f = files(stateDir);
    if (!fs.existsSync(f.pid) || !fs.existsSync(f.info)) return undefined;
    try {
        process.kill(Number(fs.readFileSync(f.pid, "utf8")), 0);
    } catch {
        return undefined;
    }
    return (JSON.parse(fs.readFileSync(f.info, "utf8")) as { apiUrl: string }).apiUrl;
}

export function stopStandinDaemon(stateDir: string): void {
    const f = files(stateDir);
    if (!fs.existsSync(f.pid)) return;
    try {
        process.kill(-Number(fs.readFileSync(f.pid, "utf8")), "SIGTERM");
    } catch {
        // already gone
    }
    fs.rmSync(f.pid, { force: true });
    fs.rmSync(f.info, { force: true });
}

/**
 * Starts the stand-in (sandbox/github/main.ts) detached, or keeps the one running: its hooks live
 * in its memory, and the stack's hook points at its URL.
 */
export async function startStandinDaemon(options: { stateDir: string; host: string; token: string; deploymentsToken?: string; repositories: string[]; args?: string[] }): Promise<StandinDaemon> {
    const f = files(options.stateDir);
    const result = (apiUrl: string): StandinDaemon => ({ apiUrl, tokenFile: f.token, logFile: f.log });
    const apiUrl = running(options.stateDir);
    if (apiUrl) return result(apiUrl);
    stopStandinDaemon(options.stateDir);
    fs.writeFileSync(f.token, options.token, { mode: 0o600 });
    if (options.deploymentsToken) fs.writeFileSync(f.deploymentsToken, options.deploymentsToken, { mode: 0o600 });
    const args = [path.join(repoRoot, "sandbox", "github", "main.ts"), "--host", options.host, "--port", "0", "--token-file", f.token, "--state-file", f.info];
    if (options.deploymentsToken) args.push("--deployments-token-file", f.deploymentsToken);
    for (const repository of options.repositories) args.push("--repo", repository);
    const log = fs.openSync(f.log, "a");
    const child = spawn(path.join(repoRoot, "node_modules", ".bin", "tsx"), [...args, ...(options.args ?? [])], { detached: true, stdio: ["ignore", "ignore", log] });
    child.unref();
    fs.writeFileSync(f.pid, String(child.pid));
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
        if (fs.existsSync(f.info)) return result((JSON.parse(fs.readFileSync(f.info, "utf8")) as { apiUrl: string }).apiUrl);
    }
    throw new Error(`the GitHub stand-in did not start; see ${f.log}`);
}
