/**
 * The sandbox builder with several hosts and repositories, as the next issues use it (many sites,
 * then a fleet): every host its own namespace and /24, each reaching the one stand-in and the
 * others on their LAN, and nothing left behind by close(). The single-host forms run in every e2e file.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSandbox, tlsServerNames, type Sandbox } from "../../sandbox/build";
import { hostDown, hostExec, hostUp, lanNetns, type SandboxHost } from "../../sandbox/hostInstance";
import { repoRoot } from "../../toolchain/env";
import { hostRun } from "../e2e/support";

const isRoot = process.getuid?.() === 0;
const namespaces = () => execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
/** This machine's own links (the root namespace's), one a line. */
const rootLinks = (...args: string[]) => execFileSync("ip", ["-o", "link", "show", ...args], { encoding: "utf8" });
const linkNames = (listing: string) => listing.split("\n").filter(Boolean).map((line) => line.split(": ")[1].split("@")[0]);

/** What the host `from` gets from `to`'s port, over plain TCP from inside `from` (bash's /dev/tcp). */
function firstLineFrom(from: SandboxHost, to: SandboxHost, port: number, send = ""): string {
    const script = `exec 3<>/dev/tcp/${to.address}/${port} && printf '${send}' >&3 && head -n 1 <&3`;
    return hostExec(from.name, `timeout 5 bash -c "${script}"`).trim();
}

describe.skipIf(!isRoot)("buildSandbox with several hosts", () => {
    const name = "e2e-fleet";
    let sandbox: Sandbox;

    let bridgesBefore: string[];

    beforeAll(async () => {
        bridgesBefore = linkNames(rootLinks("type", "bridge"));
        sandbox = await buildSandbox({ name, hosts: 3, repositories: ["selfpages/site", "selfpages/blog"], standinReachableFromHosts: true, stack: false });
    });

    afterAll(async () => {
        await sandbox?.close();
    });

    it("starts every host in its own namespace and subnet; the first is the stack's", () => {
        expect(sandbox.hosts.map((h) => h.name)).toEqual(["e2e-fleet", "e2e-fleet-2", "e2e-fleet-3"]);
        expect(sandbox.host).toBe(sandbox.hosts[0]);
        expect(new Set(sandbox.hosts.map((h) => h.netns)).size).toBe(3);
        expect(new Set(sandbox.hosts.map((h) => h.address.split(".")[2])).size).toBe(3);
        for (const host of sandbox.hosts) expect(namespaces()).toContain(host.netns);
        expect(() => sandbox.stack).toThrow(/without a stack/);
    });

    it("serves every repository from one stand-in that each host reaches", async () => {
        expect(sandbox.repository).toBe("selfpages/site");
        for (const repository of sandbox.repositories) expect(sandbox.standin.hooks(repository)).toEqual([]);
        for (const host of sandbox.hosts) {
            // 401: the stand-in answered (the request carries no token). Not hostExec: the
            // stand-in answers from this process's event loop, which a synchronous call would block.
            const { output } = await hostRun(host.name, `curl -s -m 10 -o /dev/null -w '%{http_code}' ${sandbox.standin.apiUrl}/repos/selfpages/blog/deployments`);
            expect(output, host.name).toBe("401");
        }
    });

    it("each host reaches every other at its address, sshd and nginx, with forwarding off here", async () => {
        // The machine's setting stays as it is: the LAN needs none (sandbox/host/lan.sh).
        expect(fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim()).toBe("0");
        expect(namespaces()).toContain(lanNetns(name));
        for (const from of sandbox.hosts) {
            for (const to of sandbox.hosts.filter((h) => h !== from)) {
                expect(firstLineFrom(from, to, 22), `${from.name} -> ${to.address}:22`).toMatch(/^SSH-2\.0-/);
                expect(firstLineFrom(from, to, 80, "HEAD / HTTP/1.0\\r\\n\\r\\n"), `${from.name} -> ${to.address}:80`).toMatch(/^HTTP\/1\.1 /);
            }
        }
        // The peer sees the connection come from the address the first is SSH'd at: a fleet's
        // servers know each other by their configured addresses.
        const [first, second] = sandbox.hosts;
        const open = hostRun(first.name, `bash -c 'exec 3<>/dev/tcp/${second.address}/22 && sleep 2'`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        expect(hostExec(second.name, "ss -Htn state established '( sport = :22 )'")).toContain(`${first.address}:`);
        await open;
    });

    it("a host whose name derives a subnet another holds takes the next free one", () => {
        const taken = sandbox.host.address.split(".")[2];
        // A name whose checksum lands on the first host's subnet (common.sh's rule).
        const clash = execFileSync("bash", ["-c", `for i in $(seq 0 5000); do n=e2e-c$i; [ $((16 + $(printf %s $n | cksum | cut -d' ' -f1) % 200)) = ${taken} ] && echo $n && break; done`], { encoding: "utf8" }).trim();
        expect(clash).toMatch(/^e2e-c\d+$/);
        try {
            const host = hostUp(clash);
            expect(host.address.split(".")[2]).not.toBe(taken);
            expect(hostExec(clash, "cat /etc/hostname").trim()).toBe(`sandbox-${clash}`);
        } finally {
            hostDown(clash);
        }
        expect(namespaces()).not.toContain(`sp-${clash}`);
    });

    it("refuses a name that leaves no room for the other hosts' names", async () => {
        await expect(buildSandbox({ name: "bench-deploy", hosts: 2 })).rejects.toThrow(/"bench-deploy-2" must be 1-12 of \[a-z0-9-\]/);
        expect(namespaces()).not.toContain("sp-bench-deploy");
    });

    it("close() removes every host and the LAN: no namespace, veth or bridge remains", async () => {
        await sandbox.close();
        for (const host of sandbox.hosts) expect(namespaces()).not.toContain(host.netns);
        expect(namespaces()).not.toContain(lanNetns(name));
        const links = linkNames(rootLinks());
        for (const host of sandbox.hosts) expect(links).not.toContain(`sp${host.address.split(".")[2]}h`);
        expect(linkNames(rootLinks("type", "bridge"))).toEqual(bridgesBefore);
    });
});

describe.skipIf(!isRoot)("buildSandbox with several hosts as a fleet", () => {
    const name = "e2e-fstack";
    let sandbox: Sandbox;
    const stackFile = path.join(repoRoot, `Pulumi.${name}.yaml`);

    beforeAll(async () => {
        sandbox = await buildSandbox({ name, hosts: 2, fleet: true });
    });

    afterAll(async () => {
        await sandbox?.close();
    });

    it("writes the stack's servers list, one entry per host with its own key stored encrypted", () => {
        const config = (parse(fs.readFileSync(stackFile, "utf8")) as { config: Record<string, unknown> }).config;
        const servers = config["selfpages:servers"] as Array<Record<string, unknown>>;
        expect(servers.map(({ privateKey, ...server }) => server)).toEqual(
            sandbox.hosts.map((host) => ({ name: host.name, address: host.address, hostKey: host.hostKey, port: 22 })),
        );
        for (const server of servers) expect(server.privateKey).toEqual({ secure: expect.stringMatching(/^v1:/) });
        // The one-server keys are gone; the shared ones stay.
        for (const key of ["hostAddress", "hostPort", "hostKey", "hostPrivateKey"]) expect(config).not.toHaveProperty(`selfpages:${key}`);
        expect(config["selfpages:hostUser"]).toBe("root");
        // No site may be named after a server's address in a fleet.
        expect(config["selfpages:siteServerNames"]).toEqual(tlsServerNames);
        expect(sandbox.serverNames).toEqual(tlsServerNames);
    });

    it("close() removes the stack's file, the hosts and their LAN", async () => {
        await sandbox.close();
        expect(fs.existsSync(stackFile)).toBe(false);
        for (const ns of [...sandbox.hosts.map((h) => h.netns), lanNetns(name)]) expect(namespaces()).not.toContain(ns);
    });
});
