import * as fs from "node:fs";

/** What a process of a `pulumi` run is, from its command line. */
function role(cmdline: string): string {
    if (cmdline.includes("@pulumi/pulumi/cmd/run")) return "program";
    if (cmdline.includes("cmd/dynamic-provider")) return "dynamic provider";
    if (/pulumi-language-nodejs/.test(cmdline)) return "language host";
    if (/pulumi-resource-command/.test(cmdline)) return "command provider";
    if (/pulumi-resource-random/.test(cmdline)) return "random provider";
    if (/(^|\/)pulumi /.test(cmdline)) return "pulumi CLI";
    return "other";
}

interface ProcessInfo {
    ppid: number;
    rssKiB: number;
}

function readProcess(pid: string): ProcessInfo | undefined {
    try {
        const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
        return { ppid: Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0), rssKiB: Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) };
    } catch {
        return undefined; // exited between readdir and read
    }
}

export interface RssPeak {
    /** The largest RSS any single process of the tree reached, and what that process was. */
    peakMiB: number;
    peakRole: string;
    /** The largest RSS per role. */
    byRoleMiB: Record<string, number>;
    samples: number;
}

/**
 * Samples the RSS of every process below `root` (the pulumi CLI, its language host, the program,
 * the providers) from /proc, every `intervalMs`, until stop() is called.
 */
export function sampleProcessTreeRss(root: number = process.pid, intervalMs = 150): { stop(): RssPeak } {
    const byRoleKiB: Record<string, number> = {};
    let peak = { kiB: 0, role: "" };
    let samples = 0;
    const commandLines = new Map<number, string>();
    const sample = () => {
        const processes = new Map<number, ProcessInfo>();
        for (const entry of fs.readdirSync("/proc")) {
            if (!/^\d+$/.test(entry)) continue;
            const info = readProcess(entry);
            if (info) processes.set(Number(entry), info);
        }
        const below = new Set<number>([root]);
        // Parents have lower PIDs in practice but not always (PID wrap): iterate to a fixpoint.
        for (let grew = true; grew; ) {
            grew = false;
            for (const [pid, info] of processes) {
                if (!below.has(pid) && below.has(info.ppid)) {
                    below.add(pid);
                    grew = true;
                }
            }
        }
        below.delete(root);
        for (const pid of below) {
            const info = processes.get(pid);
            if (!info) continue;
            if (!commandLines.has(pid)) {
                try {
                    commandLines.set(pid, fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " "));
                } catch {
                    continue;
                }
            }
            const r = role(commandLines.get(pid) ?? "");
            byRoleKiB[r] = Math.max(byRoleKiB[r] ?? 0, info.rssKiB);
            if (info.rssKiB > peak.kiB) peak = { kiB: info.rssKiB, role: r };
        }
        samples++;
    };
    const timer = setInterval(sample, intervalMs);
    return {
        stop() {
            clearInterval(timer);
            sample();
            const mib = (kiB: number) => Math.round(kiB / 102.4) / 10;
            return { peakMiB: mib(peak.kiB), peakRole: peak.role, byRoleMiB: Object.fromEntries(Object.entries(byRoleKiB).map(([r, k]) => [r, mib(k)])), samples };
        },
    };
}

/** Merges the peaks of several sampled runs. */
export function mergePeaks(peaks: RssPeak[]): RssPeak {
    const merged: RssPeak = { peakMiB: 0, peakRole: "", byRoleMiB: {}, samples: 0 };
    for (const p of peaks) {
        if (p.peakMiB > merged.peakMiB) Object.assign(merged, { peakMiB: p.peakMiB, peakRole: p.peakRole });
        for (const [r, v] of Object.entries(p.byRoleMiB)) merged.byRoleMiB[r] = Math.max(merged.byRoleMiB[r] ?? 0, v);
        merged.samples += p.samples;
    }
    return merged;
}
