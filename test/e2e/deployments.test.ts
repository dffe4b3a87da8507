/**
 * Deployments in GitHub, for real: the program with githubDeploymentsToken set, against a sandbox
 * host whose deploy reporter (sh + curl) calls the GitHub stand-in on the host's gateway address.
 * A push yields one deployment for its SHA with in_progress then success; a failing deploy yields
 * failure with its reason; a stand-in answering 500 or not at all delays no deploy; without the
 * token nothing is sent; the token leaks nowhere. Steps run in order and share the stack.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSandbox, type Sandbox } from "../../sandbox/build";
import type { StoredDeployment } from "../../sandbox/github/server";
import { hostExec, privateKeyOf } from "../../sandbox/hostInstance";
import { exportStack, filesHolding, get, privateKeyLines, runCommand, waitFor, worldReadableFiles } from "./support";

const isRoot = process.getuid?.() === 0;

/** Every command line on the host, as `ps` would show them. */
const hostCommandLines = (name: string) => hostExec(name, "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done 2>/dev/null");

describe.skipIf(!isRoot)("deployments in GitHub, reported by the host", () => {
    const name = "e2e-deploy";
    let env: Sandbox;
    const engineOutput: string[] = [];
    const onOutput = (line: string) => engineOutput.push(line);
    /** Host command lines sampled while the reporter was busy (scanned for the token at the end). */
    const commandLineSamples: string[] = [];
    const latencies: Record<string, number> = {};

    const served = async () => (await get(`${env.siteUrl}/version.txt`)).body.toString();
    const deploymentsOf = (sha: string): StoredDeployment[] => env.standin.deploymentsOf(env.repository).filter((d) => d.sha === sha);
    const statesOf = (sha: string) => deploymentsOf(sha).map((d) => d.statuses.map((s) => s.state));
    const syncLog = () => fs.readFileSync(path.join(env.host.rootfs, "var/log/selfpages/sites/selfpages/sync.log"), "utf8");
    /** Publishes, delivers the push and returns the delivery-to-served time. */
    const pushServed = async (label: string): Promise<{ sha: string; ms: number }> => {
        const token = crypto.randomBytes(8).toString("hex");
        const sha = env.publisher.publish({ "version.txt": token }, label);
        const sentAt = Date.now();
        const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        expect(delivery.status_code).toBe(202);
        await waitFor(`${label} to be served`, async () => (await served()) === token, 30_000, 25);
        const ms = Date.now() - sentAt;
        latencies[label] = ms;
        return { sha, ms };
    };
    /** The reporter on the host has nothing left to send. */
    const reporterIdle = () => waitFor("the reporter to finish", async () => !/deploy-report/.test(hostCommandLines(name)), 60_000, 200);

    beforeAll(async () => {
        env = await buildSandbox({ name, deployments: true });
    });

    afterAll(async () => {
        console.log(`deployments e2e, delivery to served: ${JSON.stringify(latencies)}`);
        await env?.close();
    });

    it("1. up creates the environment; the first deploy is reported: in_progress, success, the site's URL", async () => {
        const result = await env.stack.up({ onOutput });
        expect(result.summary.result).toBe("succeeded");
        const api = (p: string) => fetch(`${env.standin.apiUrl}/repos/${env.repository}${p}`, { headers: { authorization: `Bearer ${env.githubToken}` } });
        const environment = (await (await api("/environments/selfpages")).json()) as { name: string };
        expect(environment.name).toBe("selfpages");

        const head = env.publisher.head();
        await waitFor("the first deploy's success", async () => statesOf(head)[0]?.includes("success"), 30_000);
        const [deployment, ...others] = deploymentsOf(head);
        expect(others).toEqual([]);
        expect(deployment).toMatchObject({ ref: head, environment: "selfpages", creator: { login: "selfpages-deployer" } });
        expect(deployment.statuses.map((s) => s.state)).toEqual(["in_progress", "success"]);
        expect(deployment.statuses[1].environment_url).toBe(`${env.siteUrl}/`);

        // On the host: the token file is the service account's alone; the reporter is root's.
        const stat = hostExec(name, "stat -c '%a %U:%G' /etc/selfpages /etc/selfpages/github-deployments.header /usr/local/lib/selfpages/deploy-report").trim().split("\n");
        expect(stat).toEqual(["750 root:selfpages", "600 selfpages:selfpages", "755 root:root"]);
    });

    it("2. a push: served at once, then exactly one deployment for its SHA, in_progress then success; the previous one inactive; a redelivery sends nothing", async () => {
        const previous = env.publisher.head();
        const { sha, ms } = await pushServed("push");
        expect(ms).toBeLessThan(2000);
        await waitFor("the push's success", async () => statesOf(sha)[0]?.includes("success"), 30_000);
        expect(statesOf(sha)).toEqual([["in_progress", "success"]]);
        expect(deploymentsOf(sha)[0].statuses[1]).toMatchObject({ environment_url: `${env.siteUrl}/`, description: `deployed ${sha.slice(0, 7)}` });
        expect(statesOf(previous)).toEqual([["in_progress", "success", "inactive"]]);

        await reporterIdle();
        const before = env.standin.apiRequests().length;
        const lines = syncLog().split("\n").length;
        await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        await waitFor("the redelivery's sync", async () => /up to date/.test(syncLog().split("\n").slice(lines - 1).join("\n")), 20_000);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        expect(env.standin.apiRequests().slice(before)).toEqual([]);
    });

    it("3. a deploy that fails (branch missing at the origin): failure with the sync's reason, the previous release still served", async () => {
        const before = await served();
        const git = (...args: string[]) => runCommand("git", ["--git-dir", env.host.originPath, ...args]);
        const sha = env.publisher.publish({ "version.txt": "never-served" }, "branch about to go");
        await git("update-ref", "-d", "refs/heads/gh-pages");
        try {
            await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
            await waitFor("the failure status", async () => statesOf(sha)[0]?.includes("failure"), 30_000);
            expect(deploymentsOf(sha).map((d) => d.statuses.map((s) => [s.state, s.description]))).toEqual([[["failure", "ls-remote of gh-pages failed: branch gh-pages not found at the origin"]]]);
            expect(await served()).toBe(before);
        } finally {
            await git("update-ref", "refs/heads/gh-pages", sha);
        }
        await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        await waitFor("the repaired push's success", async () => statesOf(sha)[0]?.includes("success"), 30_000);
        expect(statesOf(sha)).toEqual([["failure", "in_progress", "success"]]);
    });

    it("4. the stand-in answering 500: the push is served as fast; each report that could not be sent is one log line", async () => {
        await reporterIdle();
        env.standin.setFault("500");
        const linesBefore = syncLog().split("\n").length;
        try {
            const { sha, ms } = await pushServed("push, GitHub answering 500");
            expect(ms).toBeLessThan(2000);
            await waitFor("two 'could not report' lines", async () => syncLog().split("\n").slice(linesBefore - 1).filter((l) => / deployments could not report /.test(l)).length === 2, 30_000);
            const lines = syncLog().split("\n").slice(linesBefore - 1).filter((l) => / deployments /.test(l));
            expect(lines).toEqual([
                expect.stringMatching(new RegExp(`could not report in_progress for ${sha.slice(0, 7)}: GET .* answered 500`)),
                expect.stringMatching(new RegExp(`could not report success for ${sha.slice(0, 7)}: GET .* answered 500`)),
            ]);
        } finally {
            env.standin.setFault("none");
        }
    });

    it("5. the stand-in not answering: the push is served as fast; the token is on no command line meanwhile; reports resume after", async () => {
        await reporterIdle();
        const before = env.standin.apiRequests().length;
        env.standin.setFault("hang");
        try {
            const { ms } = await pushServed("push, GitHub hanging");
            expect(ms).toBeLessThan(2000);
            // A request is held by the stand-in: its curl waits on the host (for 10 s) meanwhile.
            await waitFor("a request held by the stand-in", async () => env.standin.apiRequests().slice(before).some((r) => r.status === 0), 10_000, 50);
            commandLineSamples.push(hostCommandLines(name));
            expect(commandLineSamples.at(-1)).toContain("-H @/etc/selfpages/github-deployments.header");
        } finally {
            env.standin.setFault("none");
        }
        const { sha, ms } = await pushServed("push after the fault");
        expect(ms).toBeLessThan(2000);
        // After the hung requests time out (10 s each), this push's reports go out.
        await waitFor("the next push's success", async () => statesOf(sha)[0]?.includes("success"), 60_000, 500);
        expect(statesOf(sha)).toEqual([["in_progress", "success"]]);
        expect(syncLog()).toMatch(/could not report in_progress for [0-9a-f]{7}: GET .*curl: \(28\)/);
    });

    it("6. a second up, and a preview, report zero changes", async () => {
        const up = await env.stack.up({ onOutput });
        expect(Object.entries(up.summary.resourceChanges ?? {}).filter(([op]) => op !== "same")).toEqual([]);
        const preview = await env.stack.preview({ onOutput, diff: true });
        expect(Object.entries(preview.changeSummary).filter(([op]) => op !== "same")).toEqual([]);
    });

    it("7. the tokens appear nowhere in plain text: state, engine output, ps, logs, files other than the token's own", async () => {
        await reporterIdle();
        const deploymentsToken = env.deploymentsToken as string;
        const secrets = [deploymentsToken, env.githubToken, ...privateKeyLines(privateKeyOf(env.host))];
        const state = await exportStack(env);
        expect(state).toContain("secrets_providers");
        commandLineSamples.push(hostCommandLines(name));
        const logs = hostExec(name, "cat /var/log/selfpages/*.log /var/log/nginx/*.log 2>/dev/null || true");
        const files = worldReadableFiles(env.host.rootfs, ["etc", "var", "srv", "usr/local", "tmp", "root", "home", "run"]);
        for (const secret of secrets) {
            expect(state).not.toContain(secret);
            expect(engineOutput.join("\n")).not.toContain(secret);
            for (const sample of commandLineSamples) expect(sample).not.toContain(secret);
            expect(logs).not.toContain(secret);
            expect(files.filter((f) => f.content.includes(secret)).map((f) => f.file)).toEqual([]);
        }
        // Readable or not, one file on the host holds the deployments token: its header file.
        expect(filesHolding(env.host.rootfs, ["etc", "var", "srv", "usr/local", "tmp", "root", "home", "run"], deploymentsToken)).toEqual(["/etc/selfpages/github-deployments.header"]);
        // The stand-in's request log knows which token each request carried, never the token itself.
        expect(JSON.stringify(env.standin.apiRequests())).not.toContain(deploymentsToken);
        expect(env.standin.apiRequests().filter((r) => r.token === "deployments").length).toBeGreaterThan(0);
        expect(env.standin.validationErrors()).toEqual([]);
    });

    it("8. destroy removes the environment, the reporter and the token file", async () => {
        await env.stack.destroy({ onOutput });
        const response = await fetch(`${env.standin.apiUrl}/repos/${env.repository}/environments/selfpages`, { headers: { authorization: `Bearer ${env.githubToken}` } });
        expect(response.status).toBe(404);
        for (const gone of ["etc/selfpages/github-deployments.header", "usr/local/lib/selfpages/deploy-report"]) expect(fs.existsSync(path.join(env.host.rootfs, gone)), gone).toBe(false);
    });
});

describe.skipIf(!isRoot)("without githubDeploymentsToken", () => {
    const name = "e2e-nodeploy";
    let env: Sandbox;

    beforeAll(async () => {
        // The host can reach the stand-in: nothing is sent because nothing is set up, not because it can't.
        env = await buildSandbox({ name, standinReachableFromHosts: true });
    });

    afterAll(async () => {
        await env?.close();
    });

    it("up and a push: served, and the stand-in sees no deployment or environment call", async () => {
        expect((await env.stack.up()).summary.result).toBe("succeeded");
        const token = crypto.randomBytes(8).toString("hex");
        const sha = env.publisher.publish({ "version.txt": token }, "no reporting");
        await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        await waitFor("the push to be served", async () => (await get(`${env.siteUrl}/version.txt`)).body.toString() === token, 30_000, 25);
        await new Promise((resolve) => setTimeout(resolve, 2000));
        expect(env.standin.apiRequests().filter((r) => /deployment|environment/.test(r.operationId ?? r.path))).toEqual([]);
        expect(env.standin.deploymentsOf(env.repository)).toEqual([]);
        expect(hostExec(name, "ls /usr/local/lib/selfpages /etc/selfpages /etc/selfpages/sites/selfpages").split(/\s+/).filter(Boolean).sort()).toEqual(
            ["/etc/selfpages:", "/usr/local/lib/selfpages:", "/etc/selfpages/sites/selfpages:", "hooks.json", "sites", "sync", "sync.conf"].sort(),
        );
    });
});
