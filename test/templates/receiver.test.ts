import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hookId, hooksFile, receiverConfDFile, receiverGoMemLimit, receiverServiceFile, receiverServiceIdentity } from "../../lib/hostFiles";
import { webhookBinary } from "../../lib/platform";
import { validConfig } from "../lib/fixtures";
import { Daemon, freePort, isAlive, request, createTempDir, tempDir, waitForPort } from "./support";

/**
 * The OpenRC service of the receiver, checked with the shells that run it (dash here, busybox ash
 * on Alpine), shellcheck, and by sourcing it the way openrc-run does with the OpenRC helpers
 * replaced by recorders; its command line is then started with the real webhook binary.
 */

const run = promisify(execFile);
const secret = "receiver-test-secret-5b7d9f";

/** What openrc-run would see: the service's variables, and the helper calls its functions make. */
interface Sourced {
    vars: Record<string, string>;
    args: string[];
    calls: string[];
}

// Sourced with `.` like openrc-run does, after stand-ins for what openrc-run provides: depend()'s
// keywords as functions, the helper commands (checkpath, ebegin, eend, supervise-daemon) as
// recorders on PATH (a function cannot be named supervise-daemon in POSIX sh).
const harness = `set -eu
RC_SVCNAME=selfpages-receiver
use() { echo "use $*" >>"$CALLS"; }
after() { echo "after $*" >>"$CALLS"; }
need() { echo "need $*" >>"$CALLS"; }
before() { echo "before $*" >>"$CALLS"; }
provide() { echo "provide $*" >>"$CALLS"; }
keyword() { echo "keyword $*" >>"$CALLS"; }
. "$SCRIPT"
for var in name description supervisor supervise_daemon_args command command_args command_user directory output_log error_log respawn_delay respawn_max respawn_period extra_started_commands pidfile command_background; do
	eval "value=\\\${$var-UNSET}"
	printf 'var %s=%s\\n' "$var" "$value"
done
# Word-split like openrc-run does when it starts the command.
# shellcheck disable=SC2086
set -- $command_args
for arg in "$@"; do printf 'arg %s\\n' "$arg"; done
depend
start_pre
reload
`;

describe.each(["alpine", "debian"] as const)("receiver OpenRC service (%s)", (osFamily) => {
    const dir = tempDir(`receiver-${osFamily}`);
    const bin = path.join(dir, "bin");
    const { settings } = validConfig({ receiverPort: "9123" }, osFamily);
    const layout = settings.layout;
    const file = receiverServiceFile(settings);
    const scriptPath = path.join(dir, "selfpages-receiver");
    let webhook: Daemon | undefined;

    beforeAll(() => {
        createTempDir(dir);
        fs.writeFileSync(scriptPath, file.content, { mode: 0o755 });
    });

    afterAll(async () => {
        const pid = webhook?.child.pid;
        await webhook?.stop("SIGTERM");
        if (pid) expect(isAlive(pid)).toBe(false);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    async function source(): Promise<Sourced> {
        fs.mkdirSync(bin, { recursive: true });
        const callsFile = path.join(dir, "calls");
        fs.rmSync(callsFile, { force: true });
        for (const helper of ["checkpath", "ebegin", "eend", "supervise-daemon"]) {
            fs.writeFileSync(path.join(bin, helper), `#!/bin/sh\necho "${helper} $*" >>"$CALLS"\n`, { mode: 0o755 });
        }
        const { stdout } = await run("sh", ["-c", harness], { env: { PATH: `${bin}:/usr/bin:/bin`, SCRIPT: scriptPath, CALLS: callsFile } });
        const vars: Record<string, string> = {};
        const args: string[] = [];
        for (const line of stdout.split("\n")) {
            const v = /^var ([a-z_]+)=(.*)$/.exec(line);
            if (v) vars[v[1]] = v[2];
            if (line.startsWith("arg ")) args.push(line.slice(4));
        }
        return { vars, args, calls: fs.readFileSync(callsFile, "utf8").split("\n").filter(Boolean) };
    }

    it("starts with the openrc-run shebang and parses with sh -n (dash) and busybox sh -n (Alpine's ash)", async () => {
        expect(file.content.split("\n")[0]).toBe("#!/sbin/openrc-run");
        expect(file.content.endsWith("\n")).toBe(true);
        await run("sh", ["-n", scriptPath]);
        await run("busybox", ["sh", "-n", scriptPath]);
    });

    it("passes shellcheck", async () => {
        // -s sh: the openrc-run shebang is unknown to shellcheck (SC1008); openrc-run is POSIX sh.
        // -e SC2034: the service's variables (command, command_args, ...) are read by openrc-run,
        // which sources the script, so shellcheck sees them as assigned and never used.
        const result = await run("shellcheck", ["-s", "sh", "-e", "SC2034", scriptPath]).then(
            ({ stdout }) => ({ code: 0 as number | string | undefined, stdout }),
            (error: { code?: number | string; stdout?: string; message: string }) => ({ code: error.code, stdout: error.stdout || error.message }),
        );
        expect(result.stdout).toBe("");
        expect(result.code).toBe(0);
    });

    it("runs webhook under supervise-daemon as the service user, respawning, with its logs", async () => {
        const { vars } = await source();
        expect(vars.supervisor).toBe("supervise-daemon");
        expect(vars.command).toBe(webhookBinary);
        expect(vars.command_user).toBe("selfpages:selfpages");
        expect(vars.command_user).toBe(`${layout.serviceUser}:${layout.serviceUser}`);
        expect(vars.directory).toBe(layout.stateDir);
        expect(vars.output_log).toBe(layout.receiverLog);
        expect(vars.error_log).toBe(layout.receiverLog);
        for (const key of ["respawn_delay", "respawn_max", "respawn_period"]) expect(vars[key], key).toMatch(/^[1-9]\d*$/);
        expect(vars.extra_started_commands.split(" ")).toContain("reload");
        // Go's soft memory limit reaches the receiver only, through supervise-daemon's environment.
        expect(receiverGoMemLimit).toMatch(/^\d+MiB$/);
        expect(vars.supervise_daemon_args).toBe(`--env GOMEMLIMIT=${receiverGoMemLimit}`);
        // supervise-daemon keeps the process in the foreground itself: no pidfile/background needed.
        expect(vars.pidfile).toBe("UNSET");
        expect(vars.command_background).toBe("UNSET");
    });

    it("restarts for a new service definition, but not for a new memory limit alone (it applies at the next start)", () => {
        const script = receiverServiceFile(settings).content;
        const identity = receiverServiceIdentity(script);
        expect(script).toContain(`GOMEMLIMIT=${receiverGoMemLimit}`);
        // What the service step's trigger hashed before the limit changed, so stacks keep their trigger.
        expect(identity).toBe(script.replace(`GOMEMLIMIT=${receiverGoMemLimit}`, "GOMEMLIMIT=8MiB"));
        expect(identity.split("\n").filter((line, i) => line !== script.split("\n")[i])).toEqual(['supervise_daemon_args="--env GOMEMLIMIT=8MiB"']);
        expect(receiverServiceIdentity(receiverServiceFile(validConfig({ receiverPort: "9124" }, osFamily).settings).content)).not.toBe(identity);
    });

    it("listens on loopback at the configured port, with no secret and no -verbose on the command line", async () => {
        const { vars, args } = await source();
        expect(args).toEqual(["-hooks", layout.hooksFile, "-ip", "127.0.0.1", "-port", "9123", "-urlprefix", "hooks", "-nopanic"]);
        expect(vars.command_args).not.toMatch(/verbose|secret|hotreload/i);
        expect(file.content).not.toContain(secret);
        // The hooks file, which holds the secrets, is named; its contents are not.
        expect(file.content).not.toMatch(/payload-hmac|X-Hub-Signature/);
    });

    it("declares its dependencies, creates its log and state paths in start_pre, and reloads with USR1", async () => {
        const { calls } = await source();
        expect(calls).toContain("use net logger");
        const owner = `${layout.serviceUser}:${layout.serviceUser}`;
        expect(calls).toContain(`checkpath --directory --owner ${owner} --mode 0750 ${layout.logDir}`);
        expect(calls).toContain(`checkpath --file --owner ${owner} --mode 0640 ${layout.receiverLog}`);
        expect(calls).toContain(`checkpath --directory --owner ${owner} --mode 0750 ${layout.stateDir}`);
        expect(calls).toContain("supervise-daemon selfpages-receiver --signal USR1");
        expect(calls.indexOf("supervise-daemon selfpages-receiver --signal USR1")).toBeGreaterThan(calls.findIndex((c) => c.startsWith("ebegin")));
        expect(calls.at(-1)).toMatch(/^eend 0$/);
        expect(file.content).toMatch(/^start_pre\(\) \{/m);
        expect(file.content).toMatch(/^reload\(\) \{/m);
    });

    /**
     * start_post from the conf.d file rendered for `port`, sourced and then called as openrc-run does
     * (conf.d first, then the service script, which must not define its own); run by `shell`; sleep
     * is a recorder, so the bound costs no time.
     */
    async function startPost(shell: string[], port: number): Promise<{ code: number; calls: string[] }> {
        const portSettings = validConfig({ receiverPort: String(port) }, osFamily).settings;
        const conf = path.join(dir, `conf-${port}`);
        const service = path.join(dir, `service-${port}`);
        fs.writeFileSync(conf, receiverConfDFile(portSettings).content, { mode: 0o644 });
        fs.writeFileSync(service, receiverServiceFile(portSettings).content, { mode: 0o755 });
        fs.mkdirSync(bin, { recursive: true });
        for (const helper of ["ebegin", "eend", "sleep"]) fs.writeFileSync(path.join(bin, helper), `#!/bin/sh\necho "${helper} $*" >>"$CALLS"\n`, { mode: 0o755 });
        const callsFile = path.join(dir, "start-post-calls");
        fs.writeFileSync(callsFile, "");
        const sourced = `RC_SVCNAME=selfpages-receiver\nuse() { :; }\nafter() { :; }\n. "$CONF"\n. "$SERVICE"\nstart_post`;
        const code = await run(shell[0], [...shell.slice(1), "-c", sourced], {
            env: { PATH: `${bin}:/usr/bin:/bin`, CONF: conf, SERVICE: service, CALLS: callsFile },
        }).then(
            () => 0,
            (error: { code?: number }) => error.code ?? -1,
        );
        return { code, calls: fs.readFileSync(callsFile, "utf8").split("\n").filter(Boolean) };
    }

    it("waits for the port in its conf.d file, which parses with dash and busybox sh and passes shellcheck, not in its definition", async () => {
        const conf = receiverConfDFile(settings);
        expect(conf.path).toBe(`/etc/conf.d/${layout.receiverService}`);
        expect(conf.content).toMatch(/^start_post\(\) \{/m);
        // A start_post in the definition would override this one (openrc-run sources it second),
        // and any change to the definition restarts the receiver on the next up.
        expect(file.content).not.toMatch(/start_post/);
        const confPath = path.join(dir, "selfpages-receiver.conf");
        fs.writeFileSync(confPath, conf.content);
        await run("sh", ["-n", confPath]);
        await run("busybox", ["sh", "-n", confPath]);
        await run("shellcheck", ["-s", "sh", confPath]);
    });

    it.each([["sh"], ["busybox", "sh"]])("is started only once the receiver listens on its port, within a bound (%s)", async (...shell) => {
        const port = await freePort();
        // Nothing listens: start fails after a bounded number of waits.
        const closed = await startPost(shell, port);
        expect(closed.code).toBe(1);
        expect(closed.calls.filter((c) => c.startsWith("sleep"))).toHaveLength(100);
        expect(closed.calls.at(-1)).toBe(`eend 1 selfpages-receiver is not listening on port ${port} after 10 s`);
        // A socket listens on loopback at that port: start returns at once.
        const server = net.createServer();
        await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
        try {
            const open = await startPost(shell, port);
            expect(open.code).toBe(0);
            expect(open.calls).toEqual([`ebegin Waiting for selfpages-receiver to listen on port ${port}`, "eend 0"]);
        } finally {
            await new Promise((resolve) => server.close(resolve));
        }
    });

    it("has a command line the real webhook binary accepts", async () => {
        const { vars, args } = await source();
        expect(fs.existsSync(vars.command)).toBe(true);
        fs.accessSync(vars.command, fs.constants.X_OK);
        // Same flags, with this machine's hooks file and a free port in place of the host's.
        const hooksPath = path.join(dir, "hooks.json");
        fs.writeFileSync(hooksPath, hooksFile(settings, { [settings.sites[0].name]: [secret] }).content, { mode: 0o600 });
        const port = await freePort();
        const testArgs = [...args];
        testArgs[testArgs.indexOf("-hooks") + 1] = hooksPath;
        testArgs[testArgs.indexOf("-port") + 1] = String(port);
        // With the environment supervise-daemon gives it: Go refuses to start on a malformed GOMEMLIMIT.
        const supervisedEnv = Object.fromEntries(vars.supervise_daemon_args.split(" --env ").map((a) => a.replace(/^--env /, "").split("=", 2)));
        expect(Object.keys(supervisedEnv)).toEqual(["GOMEMLIMIT"]);
        webhook = new Daemon(vars.command, testArgs, { cwd: dir, env: { ...process.env, ...supervisedEnv } });
        await waitForPort(port, webhook.child, () => webhook?.output ?? "");
        // An unsigned delivery to the hook is refused by its rule: the hook was loaded.
        const res = await request(port, "POST", `/hooks/${hookId(settings.sites[0])}`, { headers: { "content-type": "application/json" }, body: "{}" });
        expect(res.status).toBe(403);
        expect(webhook.output).not.toContain(secret);
        await webhook.stop("SIGTERM");
    });
});
