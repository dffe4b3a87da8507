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

    /**
     * argv that runs Alpine's /bin/sh (busybox ash) in the root with the arguments appended.
     * `binds`: host paths mounted at the same path inside (the parent made, a file or a directory).
     */
    shell(binds: string[] = []): string[] {
        const enter = [
            'root=$1; shift; binds=$1; shift',
            // The root a mount of its own, as / is on a host: busybox df finds it in /proc/mounts.
            'mount --bind "$root" "$root"',
            'mount -t proc proc "$root/proc"',
            'for d in null zero urandom; do : > "$root/dev/$d"; mount --bind "/dev/$d" "$root/dev/$d"; done',
            'for b in $binds; do',
            '  mkdir -p "$root$(dirname "$b")"',
            '  if [ -d "$b" ]; then mkdir -p "$root$b"; else [ -e "$root$b" ] || : > "$root$b"; fi',
            '  mount --bind "$b" "$root$b"',
            "done",
            'exec chroot "$root" /bin/sh "$@"',
        ].join("\n");
        // --kill-child: the namespace's processes end with the unshare a test kills.
        return ["unshare", "--mount", "--propagation", "private", "--net", "--pid", "--fork", "--kill-child", "sh", "-c", enter, "enter", this.dir, binds.join(" ")];
    }

    /** Runs `script` with /bin/sh (busybox ash) inside the root. */
    run(script: string, stdin = ""): ChrootResult {
        const [command, ...args] = this.shell();
        const r = spawnSync(command, [...args, "-c", script], {
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
