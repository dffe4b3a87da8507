import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { extractMinirootfs } from "./packaging";

export interface ChrootResult {
    status: number;
    stdout: string;
    stderr: string;
}

/**
 * The Alpine 3.20.3 minirootfs extracted into a temp dir, where scripts run chrooted as root, offline:
 * each run gets its own mount, network and PID namespaces (the root bound on itself, proc and
 * /dev/null mounted there), so its mounts end with it and nothing reaches a network.
 */
export class AlpineRoot {
    readonly dir = extractMinirootfs();

    /** Runs `script` with /bin/sh (busybox ash) inside the root. */
    run(script: string, stdin = ""): ChrootResult {
        const enter = [
            // The root a mount of its own, as / is on a host: busybox df finds it in /proc/mounts.
            'mount --bind "$1" "$1"',
            'mount -t proc proc "$1/proc"',
            'for d in null zero urandom; do : > "$1/dev/$d"; mount --bind "/dev/$d" "$1/dev/$d"; done',
            'exec chroot "$1" /bin/sh -c "$2"',
        ].join("\n");
        const r = spawnSync("unshare", ["--mount", "--propagation", "private", "--net", "--pid", "--fork", "sh", "-c", enter, "enter", this.dir, script], {
            input: stdin,
            encoding: "utf8",
            timeout: 30_000,
            env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", LANG: "C" },
        });
        return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
    }

    /** A file inside the root, by its path there. */
    path(inside: string): string {
        return `${this.dir}${inside}`;
    }

    remove(): void {
        // The namespaces ended with each run; refuse to delete through a mount that outlived one.
        const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8");
        if (mounts.includes(` ${this.dir}/`)) throw new Error(`still mounted under ${this.dir}: not removed`);
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** Why the Alpine userland tests cannot run here, or undefined when they can. */
export function chrootUnavailable(): string | undefined {
    if (process.getuid?.() !== 0) return "chroot and mount namespaces need root (the tests run as root in CI)";
    return undefined;
}
