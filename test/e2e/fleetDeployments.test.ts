/**
 * Deployments in GitHub from a fleet, for real: three sandbox hosts as the stack's `servers`, with
 * githubDeploymentsToken set. Each server answers the commit it serves at its own address; the
 * first reports each push once, its success counting the servers that serve the commit. Steps run
 * in order and share the stack.
 */
import * as crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSandbox, type Sandbox } from "../../sandbox/build";
import type { StoredDeployment } from "../../sandbox/github/server";
import { hostExec } from "../../sandbox/hostInstance";
import { get, hostRun, waitFor } from "./support";

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)("deployments in GitHub from a fleet of three", () => {
    const name = "e2e-fdep";
    let env: Sandbox;
    /** Served by the first server to its success in GitHub, ms, by step. */
    const measured: Record<string, number> = {};

    const deploymentsOf = (sha: string): StoredDeployment[] => env.standin.deploymentsOf(env.repository).filter((d) => d.sha === sha);
    const successOf = (sha: string) => deploymentsOf(sha).flatMap((d) => d.statuses.filter((s) => s.state === "success"));
    const servedBy = async (address: string) => (await get(`http://${address}/version.txt`, { host: env.serverNames[0] })).body.toString();
    /** Publishes and delivers the push to every server's hook; returns the commit and the version it serves. */
    const push = async (label: string, statuses = [202, 202, 202]): Promise<{ sha: string; token: string }> => {
        const token = crypto.randomBytes(8).toString("hex");
        const sha = env.publisher.publish({ "version.txt": token }, label);
        const deliveries = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        expect(deliveries.map((d) => d.status_code).sort()).toEqual(statuses);
        return { sha, token };
    };

    beforeAll(async () => {
        env = await buildSandbox({ name, hosts: 3, fleet: true, deployments: true });
    }, 600_000);

    afterAll(async () => {
        console.log(`fleet deployments e2e, served by the first server to success: ${JSON.stringify(measured)}`);
        await env?.close();
    }, 600_000);

    it("1. up provisions the three servers; each answers at its own address the commit it serves", async () => {
        const result = await env.stack.up({ continueOnError: true });
        expect(result.summary.result).toBe("succeeded");
        const head = env.publisher.head();
        for (const host of env.hosts) {
            const commit = await get(`http://${host.address}/selfpages/selfpages/commit`);
            expect([commit.status, commit.body.toString()], host.name).toEqual([200, `${head}\n`]);
            expect(commit.headers.get("cache-control")).toBe("no-store");
            // Not under the site's names.
            expect((await get(`http://${host.address}/selfpages/selfpages/commit`, { host: env.serverNames[0] })).status).toBe(404);
        }
        // Only the first server has the reporter.
        expect(hostExec(env.hosts[0].name, "test -x /usr/local/lib/selfpages/deploy-report && echo yes").trim()).toBe("yes");
        for (const host of env.hosts.slice(1)) expect(hostExec(host.name, "ls /usr/local/lib/selfpages/ /etc/selfpages/sites/selfpages/").trim(), host.name).not.toMatch(/deploy-report/);
    }, 900_000);

    it("2. a push: served by every server, one deployment for its commit, its success saying 3 of 3", async () => {
        const { sha, token } = await push("fleet push");
        await waitFor("the first server to serve the push", async () => (await servedBy(env.hosts[0].address)) === token, 30_000, 50);
        const served = Date.now();
        for (const host of env.hosts) await waitFor(`${host.name} to serve the push`, async () => (await servedBy(host.address)) === token, 30_000, 50);
        await waitFor("the push's success", async () => successOf(sha).length > 0, 30_000, 50);
        measured.allServing = Date.now() - served;
        expect(deploymentsOf(sha)).toHaveLength(1);
        expect(deploymentsOf(sha)[0].statuses.map((s) => [s.state, s.description])).toEqual([
            ["in_progress", `deploying ${sha.slice(0, 7)}`],
            ["success", `deployed ${sha.slice(0, 7)}: served by 3 of 3 servers`],
        ]);
    }, 120_000);

    it("3. a server that does not answer: the success comes within the bound and names it", async () => {
        const [, , third] = env.hosts;
        const { output } = await hostRun(third.name, "rc-service nginx stop");
        expect(output).not.toMatch(/ERROR/);
        try {
            // Its hook's delivery fails too (no answer: 0): it would catch up by its fallback sync.
            const { sha, token } = await push("third down", [0, 202, 202]);
            await waitFor("the first server to serve the push", async () => (await servedBy(env.hosts[0].address)) === token, 30_000, 50);
            const served = Date.now();
            await waitFor("the push's success", async () => successOf(sha).length > 0, 30_000, 50);
            measured.oneDown = Date.now() - served;
            // PEER_WAIT is 10 s (counted in whole seconds), then one last round of 1 s at most.
            expect(Date.now() - served).toBeLessThan(14_000);
            expect(successOf(sha).map((s) => s.description)).toEqual([`deployed ${sha.slice(0, 7)}: served by 2 of 3 servers (${third.name} not yet)`]);
            expect(deploymentsOf(sha)).toHaveLength(1);
        } finally {
            await hostRun(third.name, "rc-service nginx start");
        }
    }, 120_000);
});
