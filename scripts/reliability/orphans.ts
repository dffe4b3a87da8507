import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Pulumi plugin processes (language host, providers) whose `pulumi` has exited: reparented to PID
 * 1, whose working directory starts with one of `prefixes`. A `pulumi up` whose program fails can leave its language host
 * behind (seen with the 3.248.0 CLI after a RunError); it only exits at its next health check of
 * the engine, minutes later.
 */
export function orphanedPlugins(prefixes: string[]): number[] {
    const found: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const status = fs.readFileSync(`/proc/${entry}/status`, "utf8");
            if (!/^PPid:\s+1$/m.test(status) || /^State:\s+Z/m.test(status)) continue;
            const command = path.basename(fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")[0] ?? "");
            if (!/^pulumi-(language|resource)-/.test(command)) continue;
            const cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
            if (prefixes.some((p) => cwd.startsWith(p))) found.push(Number(entry));
        } catch {
            // exited meanwhile, or not ours to read
        }
    }
    return found;
}

/** Ends the orphaned plugin processes this run left (not those present before it); returns how many. */
export function endOrphansSince(before: number[], prefixes: string[]): number {
    const left = orphanedPlugins(prefixes).filter((pid) => !before.includes(pid));
    for (const pid of left) {
        try {
            process.kill(pid, "SIGTERM");
        } catch {
            // already gone
        }
    }
    return left.length;
}
