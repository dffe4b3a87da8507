import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SshSession } from "../../../lib/ssh";
import { hostDown, hostExec, hostUp, privateKeyOf, type SandboxHost } from "../../../sandbox/hostInstance";

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)("sandbox host", () => {
    let host: SandboxHost;
    const name = "hosttest";

    beforeAll(() => {
        host = hostUp(name);
    });
    afterAll(() => {
        if (host) hostDown(name);
    });

    it("answers SSH with the recorded host key, runs OpenRC, and reaches its git origin", async () => {
        const session = await SshSession.connect({ host: host.address, port: host.port, user: host.user, privateKey: privateKeyOf(host), hostKey: host.hostKey });
        try {
            const status = await session.exec(`rc-status default; git ls-remote ${host.originUrl}`);
            expect(status.stdout).toMatch(/ssh\s+\[\s+started/);
            expect(status.stdout).toMatch(/cron\s+\[\s+started/);
            expect(status.stdout).toMatch(/refs\/heads\/gh-pages/);
            expect((await session.exec("rc-service nginx restart >/dev/null 2>&1 && rc-service nginx status")).code).toBe(0);
        } finally {
            session.close();
        }
        expect((await fetch(`http://${host.address}/`)).status).toBe(200);
    });

    it("refuses a connection when the pinned host key differs", async () => {
        const otherKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKey0";
        await expect(SshSession.connect({ host: host.address, port: host.port, user: host.user, privateKey: privateKeyOf(host), hostKey: otherKey })).rejects.toThrow(/host key mismatch/);
    });

    it("supervises a service with supervise-daemon and restarts it when killed", () => {
        const script = ["#!/sbin/openrc-run", "supervisor=supervise-daemon", "command=/bin/sleep", "command_args=1000", "respawn_delay=1", ""].join("\n");
        fs.writeFileSync(path.join(host.rootfs, "etc/init.d/probe"), script, { mode: 0o755 });
        hostExec(name, "rc-service probe start");
        const before = hostExec(name, "pgrep -f '^/bin/sleep 1000$'").trim();
        hostExec(name, "pkill -KILL -f '^/bin/sleep 1000$'");
        let after = "";
        for (let i = 0; i < 40 && (after === "" || after === before); i++) {
            execFileSync("sleep", ["0.25"]);
            after = hostExec(name, "pgrep -f '^/bin/sleep 1000$' || true").trim();
        }
        expect(after).not.toBe("");
        expect(after).not.toBe(before);
        hostExec(name, "rc-service probe stop; rm -f /etc/init.d/probe");
    });

    it("comes down leaving no namespace, mount or process behind", () => {
        hostDown(name);
        expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).not.toContain(host.netns);
        expect(fs.readFileSync("/proc/mounts", "utf8")).not.toContain(`/${name}/`);
        expect(fs.existsSync(path.dirname(host.rootfs))).toBe(false);
        expect(execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })).not.toContain(`/${name}/rootfs`);
    });
});
