import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reloadNginx, reloadNginxIfRunning } from "../../lib/openrc";
import { AlpineRoot, chrootUnavailable } from "../alpine/chroot";
import { alpineAvailable } from "../alpine/packaging";
import { tempDir } from "../templates/support";

/**
 * nginx's reload and its wait for the new workers, run by each host's shell (dash here for Debian,
 * busybox ash in the Alpine minirootfs) in a PID namespace of its own, so /proc holds only the
 * processes a case starts: processes titled as nginx's workers, and stand-ins for `nginx -t` and
 * `rc-service` (its reload ends the old workers a while later, as nginx's master does).
 */

interface Shell {
    /** The directory the case's files live in, as the shell sees it. */
    dir: string;
    /** Starts a process titled `title` in the background, its pid in `pidFile`. */
    spawnTitled(title: string, pidFile: string): string;
    run(script: string, env: Record<string, string>): { status: number; stdout: string; stderr: string };
}

const stubs = (dir: string): Record<string, string> => ({
    nginx: `#!/bin/sh\necho "nginx $*" >> ${dir}/calls\nexit "\${NGINX_CHECK_STATUS:-0}"\n`,
    // The master replaces its workers after the signal: the first old one ends at 0.2 s, the second at 0.6 s.
    "rc-service": `#!/bin/sh
echo "rc-service $*" >> ${dir}/calls
case "$2" in
    status) exit "\${NGINX_STATUS:-0}" ;;
    reload) (sleep 0.2; kill "$(cat ${dir}/first.pid)"; sleep 0.4; kill "$(cat ${dir}/second.pid)") </dev/null >/dev/null 2>&1 & ;;
esac
`,
});

const scenario = (shell: Shell, options: { mode: string; snippet: string }): string => {
    const d = shell.dir;
    const started = (pidFile: string, title: string) => `until grep -q '^${title}' /proc/"$(cat ${d}/${pidFile})"/cmdline 2>/dev/null; do sleep 0.01; done`;
    return [
        `export PATH=${d}/bin:$PATH`,
        `: > ${d}/calls`,
        shell.spawnTitled("nginx: worker process", `${d}/first.pid`),
        shell.spawnTitled("nginx: worker process", `${d}/second.pid`),
        // An old worker still finishing its requests: it accepts nothing, the reload need not wait for it.
        shell.spawnTitled("nginx: worker process is shutting down", `${d}/draining.pid`),
        started("first.pid", "nginx: worker process"),
        started("second.pid", "nginx: worker process"),
        started("draining.pid", "nginx: worker process is shutting down"),
        options.mode,
        options.snippet,
        'echo "status=$? n=${n:-unset} old=[${old:-}]"',
        `for w in first second draining; do if kill -0 "$(cat ${d}/$w.pid)" 2>/dev/null; then echo "$w alive"; else echo "$w gone"; fi; done`,
        `cat ${d}/calls`,
    ].join("\n");
};

const cases = (shell: Shell) => {
    const run = (mode: string, snippet: string, env: Record<string, string> = {}) => shell.run(scenario(shell, { mode, snippet }), env);

    // acme-renew and cert-pull run the reload with globbing off; the steps run it under `set -eu`.
    it.each([":", "set -f", "set -eu", "set -euf"])("reloadNginx returns once every worker that accepted before has gone (%s)", (mode) => {
        const r = run(mode, reloadNginx("nginx -t -q"));
        expect(r.stderr).toBe("");
        expect(r.stdout).toMatch(/^status=0 n=\d+ old=\[\]\n/);
        expect(Number(/n=(\d+)/.exec(r.stdout)?.[1])).toBeLessThan(50);
        expect(r.stdout).toContain("first gone\nsecond gone\ndraining alive\nnginx -t -q\nrc-service nginx reload\n");
    });

    it("a refused configuration fails at once: no reload, no wait, the workers untouched", () => {
        const r = run(":", reloadNginx("nginx -t -q"), { NGINX_CHECK_STATUS: "1" });
        expect(r.stdout).toMatch(/^status=1 n=unset /);
        expect(r.stdout).toMatch(/first alive\nsecond alive\ndraining alive\nnginx -t -q\n$/);
    });

    it("reloadNginxIfRunning reloads a running nginx and waits; a stopped one is left alone", () => {
        const running = run("set -f", reloadNginxIfRunning());
        expect(running.stdout).toMatch(/^status=0 n=\d+ old=\[\]\nfirst gone\nsecond gone\n/);
        const stopped = run("set -f", reloadNginxIfRunning(), { NGINX_STATUS: "3" });
        expect(stopped.stdout).toMatch(/^status=0 n=unset old=\[\]\nfirst alive\nsecond alive\ndraining alive\nrc-service nginx status\n$/);
    });
};

describe("nginx's reload on Debian's shell (dash)", () => {
    const dir = tempDir("openrc-reload");
    const shell: Shell = {
        dir,
        spawnTitled: (title, pidFile) => `bash -c 'exec -a "$0" sleep 10' '${title}' </dev/null >/dev/null 2>&1 & echo $! > ${pidFile}`,
        run: (script, env) => {
            // --mount-proc: /proc of the namespace, so no nginx of a sandbox host running beside is seen.
            const r = spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c", script], { encoding: "utf8", timeout: 30_000, env: { ...process.env, ...env } });
            return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
        },
    };
    beforeAll(() => {
        fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
        for (const [name, content] of Object.entries(stubs(dir))) fs.writeFileSync(path.join(dir, "bin", name), content, { mode: 0o755 });
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    cases(shell);
});

const alpineUnavailable = alpineAvailable ? chrootUnavailable() : "../shared/third_party/alpine is missing";
if (alpineUnavailable) console.warn(`test/lib/openrc: Alpine part skipped: ${alpineUnavailable}`);

describe.skipIf(alpineUnavailable !== undefined)("nginx's reload on Alpine's shell (busybox ash)", () => {
    let root: AlpineRoot;
    const dir = "/tmp/openrc-reload";
    const shell: Shell = {
        dir,
        // Busybox's sleep would read the title as the applet to run: iconv (musl-utils) waits on its input instead.
        spawnTitled: (title, pidFile) => `sleep 10 | (exec -a '${title}' /usr/bin/iconv) >/dev/null 2>&1 & echo $! > ${pidFile}`,
        run: (script, env) => root.run(`${Object.entries(env).map(([k, v]) => `export ${k}=${v}`).join("\n")}\n${script}`),
    };
    beforeAll(() => {
        root = new AlpineRoot();
        fs.mkdirSync(root.path(`${dir}/bin`), { recursive: true });
        for (const [name, content] of Object.entries(stubs(dir))) fs.writeFileSync(root.path(`${dir}/bin/${name}`), content, { mode: 0o755 });
    });
    afterAll(() => root?.remove());
    cases(shell);
});
