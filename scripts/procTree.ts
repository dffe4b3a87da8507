import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Memory of a process tree, sampled from this machine's /proc while the tree runs. The sandbox
 * host's processes are in a child PID namespace, so they appear here too (with outer PIDs): one
 * sampler serves the host's sync and the local Pulumi CLI alike, and it runs outside what it
 * measures (no tool inside the host, no change to the sync script).
 *
 * A process's VmHWM is its own peak RSS so far, so the largest process's peak is exact as long as
 * the process was seen once near its end; the sum over the tree is only as good as the sampling
 * interval. Shared pages (libc, a binary run twice) count once per process in the sum.
 */
export interface Proc {
    pid: number;
    ppid: number;
    comm: string;
}

export interface TreeFigures {
    /** Samples in which the tree had at least one process. */
    samples: number;
    intervalMs: number;
    processesSeen: number;
    /** Highest sum of VmRSS over the tree in one sample. */
    peakSumRssKiB: number;
    /** Highest sum of RssAnon (memory that only swap could free; the rest is the page cache's). */
    peakSumAnonKiB: number;
    /** The single process with the highest VmHWM seen, and that peak; its highest RssAnon sampled. */
    largest: { name: string; peakKiB: number; peakAnonKiB: number };
    /** Highest VmHWM per process name (several processes of one name: the highest). */
    peakByNameKiB: Record<string, number>;
}

/** Every process now: pid, parent, comm. Processes that exit mid-read are skipped. */
export function listProcs(): Map<number, Proc> {
    const procs = new Map<number, Proc>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        let stat: string;
        try {
            stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
        } catch {
            continue;
        }
        // comm may hold spaces and parentheses: it ends at the last ')'.
        const close = stat.lastIndexOf(")");
        const comm = stat.slice(stat.indexOf("(") + 1, close);
        const ppid = Number(stat.slice(close + 2).split(" ")[1]);
        procs.set(Number(entry), { pid: Number(entry), ppid, comm });
    }
    return procs;
}

/** The pids of `roots` and all their descendants. */
export function descendants(procs: Map<number, Proc>, roots: number[]): number[] {
    const children = new Map<number, number[]>();
    for (const p of procs.values()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
    const out: number[] = [];
    const queue = [...roots];
    while (queue.length > 0) {
        const pid = queue.shift()!;
        if (!procs.has(pid) || out.includes(pid)) continue;
        out.push(pid);
        queue.push(...(children.get(pid) ?? []));
    }
    return out;
}

/** Fields of /proc/PID/status in KiB (VmRSS, VmHWM, ...), or undefined once the process is gone. */
export function statusKiB(pid: number): Record<string, number> | undefined {
    try {
        const out: Record<string, number> = {};
        for (const line of fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
            const m = /^(Vm\w+|Rss\w+):\s+(\d+) kB$/.exec(line);
            if (m) out[m[1]] = Number(m[2]);
        }
        return out;
    } catch {
        return undefined;
    }
}

/** Rss and Pss of a process from smaps_rollup (KiB), or undefined once it is gone. */
export function rssPssKiB(pid: number): { rss: number; pss: number } | undefined {
    try {
        const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
        const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(text)?.[1] ?? NaN);
        return { rss: field("Rss"), pss: field("Pss") };
    } catch {
        return undefined;
    }
}

let ticks: number | undefined;
/** USER_HZ, the unit of /proc's CPU times: asked once, when first needed. */
const clockTicksPerSecond = () => (ticks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" })));

/**
 * CPU seconds (user + system) of a process (a pid, or "self"), and of its children once they
 * exited and were waited for (with theirs), from /proc/PID/stat.
 */
export function cpuSeconds(pid: number | "self"): { own: number; children: number } {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const [utime, stime, cutime, cstime] = stat.slice(stat.lastIndexOf(")") + 2).split(" ").slice(11, 15).map(Number);
    return { own: (utime + stime) / clockTicksPerSecond(), children: (cutime + cstime) / clockTicksPerSecond() };
}

/** Busy CPU seconds of the whole machine since boot (every core: user, nice, system, irq, softirq), from /proc/stat. */
export function machineBusySeconds(): number {
    const [user, nice, system, , , irq, softirq] = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq) / clockTicksPerSecond();
}

/**
 * A readable name from the command line: the program, or for an interpreter the script it runs
 * (node's program and dynamic provider, the sh shim of a plugin), since comm cuts names at 15
 * characters and all plugins start with "pulumi-resource".
 */
export function processName(pid: number, fallback: string): string {
    let argv: string[];
    try {
        argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    } catch {
        return fallback;
    }
    if (argv.length === 0) return fallback;
    const base = path.basename(argv[0]);
    if (base === "node" || base.startsWith("node")) {
        if (argv.some((a) => a.includes("dynamic-provider"))) return "node (dynamic provider)";
        if (argv.some((a) => a.includes("@pulumi/pulumi/cmd/run") || a.includes("cmd/run"))) return "node (program)";
        if (argv.includes("-e")) return "node -e";
        const script = argv.slice(1).find((a) => !a.startsWith("-"));
        return script ? `node ${path.basename(script)}` : "node";
    }
    if (base === "git") {
        // "git index-pack", "git read-tree": which step of the sync it was.
        for (let i = 1; i < argv.length; i++) {
            if (["-c", "-C", "--shallow-file", "--namespace"].includes(argv[i])) i++;
            else if (!argv[i].startsWith("-")) return `git ${argv[i]}`;
        }
    }
    if ((base === "sh" || base === "dash" || base === "bash") && argv[1] && !argv[1].startsWith("-")) return `${path.basename(argv[1])} (sh)`;
    return base;
}

/**
 * Samples the tree under the processes `roots` picks from each listing, every `intervalMs`, until
 * stop(). Synchronous reads on a timer: the awaited work runs in other processes.
 */
export class TreeSampler {
    private timer: NodeJS.Timeout | undefined;
    private samples = 0;
    private peakSum = 0;
    private peakSumAnon = 0;
    private readonly hwm = new Map<string, { name: string; peak: number; anon: number }>();

    constructor(
        private readonly roots: (procs: Map<number, Proc>) => number[],
        private readonly intervalMs = 20,
    ) {}

    start(): this {
        this.sample();
        this.timer = setInterval(() => this.sample(), this.intervalMs);
        return this;
    }

    sample(): void {
        const procs = listProcs();
        const pids = descendants(procs, this.roots(procs));
        let sum = 0;
        let sumAnon = 0;
        let seen = 0;
        for (const pid of pids) {
            const status = statusKiB(pid);
            // Kernel threads and zombies have no VmRSS.
            if (!status || status.VmRSS === undefined) continue;
            seen++;
            sum += status.VmRSS;
            const anon = status.RssAnon ?? 0;
            sumAnon += anon;
            // Keyed by pid and comm: a child seen between its fork and its exec is the parent's
            // program under a new pid; after the exec it is another program, with a new VmHWM.
            const comm = procs.get(pid)?.comm ?? "?";
            const key = `${pid} ${comm}`;
            const known = this.hwm.get(key);
            const peak = Math.max(status.VmHWM ?? 0, status.VmRSS);
            if (known) {
                known.peak = Math.max(known.peak, peak);
                known.anon = Math.max(known.anon, anon);
            } else this.hwm.set(key, { name: processName(pid, comm), peak, anon });
        }
        if (seen > 0) this.samples++;
        this.peakSum = Math.max(this.peakSum, sum);
        this.peakSumAnon = Math.max(this.peakSumAnon, sumAnon);
    }

    halt(): void {
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
    }

    /** Stops and returns the figures; throws if the tree was never seen (a figure of 0 is no figure). */
    stop(what: string): TreeFigures {
        this.halt();
        if (this.samples === 0 || this.hwm.size === 0) throw new Error(`${what}: no sample of its processes was taken`);
        const byName: Record<string, number> = {};
        let largest = { name: "", peakKiB: 0, peakAnonKiB: 0 };
        for (const { name, peak, anon } of this.hwm.values()) {
            // Seen only between fork and exec, or as it exited: no memory to speak of.
            if (peak === 0) continue;
            byName[name] = Math.max(byName[name] ?? 0, peak);
            if (peak > largest.peakKiB) largest = { name, peakKiB: peak, peakAnonKiB: anon };
        }
        return {
            samples: this.samples,
            intervalMs: this.intervalMs,
            processesSeen: this.hwm.size,
            peakSumRssKiB: this.peakSum,
            peakSumAnonKiB: this.peakSumAnon,
            largest,
            peakByNameKiB: byName,
        };
    }
}

/** `fn` with the tree sampled while it runs. */
export async function sampled<T>(what: string, roots: (procs: Map<number, Proc>) => number[], fn: () => Promise<T>, intervalMs = 20): Promise<[T, TreeFigures]> {
    const sampler = new TreeSampler(roots, intervalMs).start();
    try {
        const result = await fn();
        return [result, sampler.stop(what)];
    } finally {
        sampler.halt();
    }
}
