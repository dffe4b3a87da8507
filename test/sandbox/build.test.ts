/**
 * The sandbox builder with several hosts and repositories, as the next issues use it (many sites,
 * then a fleet): every host its own namespace and /24, each reaching the one stand-in, and nothing
 * left behind by close(). The single-host forms run in every e2e file.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSandbox, type Sandbox } from "../../sandbox/build";
import { hostDown, hostExec, hostUp } from "../../sandbox/hostInstance";
import { hostRun } from "../e2e/support";

const isRoot = process.getuid?.() === 0;
const namespaces = () => execFileSync("ip", ["netns", "list"], { encoding: "utf8" });

describe.skipIf(!isRoot)("buildSandbox with several hosts", () => {
    const name = "e2e-fleet";
    let sandbox: Sandbox;

    beforeAll(async () => {
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

    it("close() removes every host", async () => {
        await sandbox.close();
        for (const host of sandbox.hosts) expect(namespaces()).not.toContain(host.netns);
    });
});
