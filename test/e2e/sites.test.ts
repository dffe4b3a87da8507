/**
 * Many sites on one host, as GitHub Pages has them: "main" under the host's address (and a second
 * name that redirects to it), "docs" a project site at /docs/ published from its repository's /docs
 * folder, and "blog" under a name of its own. Each repository has its own origin, hook and secret.
 * Steps run in order and share the stack.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { platforms } from "../../lib/platform";
import { buildSandbox, type Sandbox } from "../../sandbox/build";
import type { GitHubStandin } from "../../sandbox/github/server";
import type { SandboxHost } from "../../sandbox/hostInstance";
import { get, hostRun, probeUntilStopped, waitFor } from "./support";

const isRoot = process.getuid?.() === 0;
const stackName = "sites";
const redirectName = "www.main.selfpages.test";
const blogName = "blog.selfpages.test";
const repositories = { main: "selfpages/site", docs: "selfpages/docs", blog: "selfpages/blog" } as const;
type SiteName = keyof typeof repositories;

describe.skipIf(!isRoot)("many sites on one host", () => {
    let env: Sandbox;
    let host: SandboxHost;
    let standin: GitHubStandin;
    let stack: Stack;
    const engineOutput: string[] = [];
    const onOutput = (line: string) => engineOutput.push(line);

    /** A site's file as a visitor gets it: main at the address, docs under /docs/, blog by its name. */
    const fetchSite = (site: SiteName, file: string) => {
        const base = `http://${host.address}`;
        if (site === "docs") return get(`${base}/docs/${file}`);
        return get(`${base}/${file}`, site === "blog" ? { host: blogName } : {});
    };
    const served = async (site: SiteName, file: string) => {
        const res = await fetchSite(site, file);
        return res.status === 200 ? res.body.toString() : `(${res.status})`;
    };
    /** Publishes version.txt on a site's branch (in its folder) and delivers the push; returns the token. */
    const publish = async (site: SiteName, expectStatus = 202) => {
        const token = crypto.randomBytes(8).toString("hex");
        const sha = env.publisherOf(repositories[site]).publish({ [site === "docs" ? "docs/version.txt" : "version.txt"]: token }, `publish ${token}`);
        const [delivery] = await standin.sendPush(repositories[site], { ref: "refs/heads/gh-pages", after: sha });
        expect(delivery.status_code, `${site}'s delivery`).toBe(expectStatus);
        return { token, sha };
    };
    const syncLog = (site: SiteName) => fs.readFileSync(path.join(host.rootfs, `var/log/selfpages/sites/${site}/sync.log`), "utf8");

    /** Requests every `site` in turn until stopped; returns how many were made and what failed. */
    const probe = (sites: SiteName[]) => probeUntilStopped(() => sites.map((site) => ({ label: site, request: () => fetchSite(site, "") })));

    beforeAll(async () => {
        env = await buildSandbox({
            name: stackName,
            sites: [
                { name: "main", repository: repositories.main },
                { name: "docs", repository: repositories.docs, folder: "/docs", parent: "main", path: "docs" },
                { name: "blog", repository: repositories.blog, serverNames: [blogName] },
            ],
            config: { syncSchedule: "0 0 1 1 *" },
        });
        ({ host, standin, stack } = env);
        // main answers to the host's address and a second name, which redirects to it.
        await stack.setConfig("selfpages:sites[0].serverNames[1]", { value: redirectName }, true);
    });

    afterAll(async () => {
        await env?.close();
    });

    it("1. up from bare serves each site from its own repository, the project site under its path", async () => {
        const result = await stack.up({ onOutput });
        expect(result.summary.result).toBe("succeeded");
        expect(await served("main", "")).toMatch(/Do-It/);
        const docs = await fetchSite("docs", "");
        expect(docs.status).toBe(200);
        expect(docs.body.toString()).toMatch(/Documentation, page 1/);
        expect(docs.headers.get("cache-control")).toBe("no-cache");
        expect(await served("blog", "")).toMatch(/Do-It/);
        // The project site's own 404 page is its folder's: docs/ has none, so nginx's.
        expect((await fetchSite("docs", "no-such-page")).status).toBe(404);
        // /docs without its slash goes to the project site.
        const bare = await get(`http://${host.address}/docs`);
        expect(bare.status).toBe(301);
        expect(bare.headers.get("location")).toMatch(/\/docs\/$/);
        // Each site its own hook, URL and secret.
        const outputs = await stack.outputs();
        const sites = outputs.sites.value as Record<string, { url: string; webhookUrl: string }>;
        expect(sites.docs.url).toBe(`http://${host.address}/docs/`);
        expect(sites.docs.webhookUrl).toBe(`http://${host.address}/docs/webhook`);
        expect(sites.blog.webhookUrl).toBe(`http://${blogName}/webhook`);
        const secrets = new Set<string>();
        for (const [site, repository] of Object.entries(repositories)) {
            const hooks = standin.hooks(repository);
            expect(hooks, repository).toHaveLength(1);
            expect(hooks[0].config.url).toBe(sites[site].webhookUrl);
            secrets.add(String(hooks[0].config.secret));
        }
        expect(secrets.size).toBe(3);
    });

    it("2. the other server names answer 301 to the canonical one, path kept", async () => {
        const res = await get(`http://${host.address}/style.css?v=1`, { host: redirectName });
        expect(res.status).toBe(301);
        expect(res.headers.get("location")).toBe(`http://${host.address}/style.css?v=1`);
    });

    it("3. a push to each site is served by that site only", async () => {
        const pushed = await Promise.all((Object.keys(repositories) as SiteName[]).map(async (site) => ({ site, ...(await publish(site)) })));
        for (const { site, token } of pushed) {
            await waitFor(`${site}'s push to be served`, async () => (await served(site, "version.txt")) === token, 30_000, 100);
        }
        expect(await served("main", "version.txt")).toBe(pushed[0].token);
    });

    it("4. one site's origin down: its deploy fails in its own log, the others deploy", async () => {
        const origin = env.originPathOf(repositories.blog);
        const blogBefore = await served("blog", "version.txt");
        const blog = env.publisherOf(repositories.blog).publish({ "version.txt": "unreachable" }, "while down");
        fs.renameSync(origin, `${origin}.down`);
        try {
            const [delivery] = await standin.sendPush(repositories.blog, { ref: "refs/heads/gh-pages", after: blog });
            expect(delivery.status_code).toBe(202);
            const main = await publish("main");
            const docs = await publish("docs");
            await waitFor("main's push", async () => (await served("main", "version.txt")) === main.token, 30_000, 100);
            await waitFor("docs's push", async () => (await served("docs", "version.txt")) === docs.token, 30_000, 100);
            await waitFor("blog's failed fetch in its log", async () => /error/i.test(syncLog("blog").split("\n").slice(-5).join("\n")), 30_000, 200);
            expect(await served("blog", "version.txt")).toBe(blogBefore);
        } finally {
            fs.renameSync(`${origin}.down`, origin);
        }
        const [again] = await standin.sendPush(repositories.blog, { ref: "refs/heads/gh-pages", after: blog });
        expect(again.status_code).toBe(202);
        await waitFor("blog's push once its origin is back", async () => (await served("blog", "version.txt")) === "unreachable", 30_000, 100);
    });

    it("5. pin a commit: served within one up, a push is logged and not deployed; unpin serves the head", async () => {
        const first = await publish("main");
        await waitFor("main's first push", async () => (await served("main", "version.txt")) === first.token, 30_000, 100);
        const second = await publish("main");
        await waitFor("main's second push", async () => (await served("main", "version.txt")) === second.token, 30_000, 100);

        await stack.setConfig("selfpages:sites[0].pin", { value: first.sha }, true);
        await stack.up({ onOutput });
        expect(await served("main", "version.txt")).toBe(first.token);
        const third = await publish("main");
        await waitFor("the push logged as not deployed", async () => syncLog("main").includes(third.sha.slice(0, 7)) && /pinned/.test(syncLog("main")), 30_000, 200);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        expect(await served("main", "version.txt")).toBe(first.token);

        await stack.removeConfig("selfpages:sites[0].pin", true);
        await stack.up({ onOutput });
        expect(await served("main", "version.txt")).toBe(third.token);
    });

    it("6. a second up changes nothing", async () => {
        const up = await stack.up({ onOutput });
        expect(Object.entries(up.summary.resourceChanges ?? {}).filter(([op]) => op !== "same")).toEqual([]);
    });

    it("7. a site removed from the list is gone after one up; the others answer 200 throughout", async () => {
        const stop = probe(["main", "docs"]);
        await stack.removeConfig("selfpages:sites[2]", true);
        const up = await stack.up({ onOutput });
        const { count, failures } = await stop();
        expect(up.summary.result).toBe("succeeded");
        console.log(`site removal: ${count} probes of the other sites, ${failures.length} failed`);
        expect(count).toBeGreaterThan(20);
        expect(failures).toEqual([]);
        expect(standin.hooks(repositories.blog)).toHaveLength(0);
        expect(fs.existsSync(path.join(host.rootfs, "srv/selfpages/sites/blog"))).toBe(false);
        expect(fs.existsSync(path.join(host.rootfs, "etc/selfpages/sites/blog"))).toBe(false);
        expect((await hostRun(host.name, "crontab -u selfpages -l")).output).not.toMatch(/blog/);
        expect(fs.readFileSync(path.join(host.rootfs, "etc/selfpages/hooks.json"), "utf8")).not.toMatch(/"blog"/);
        // Its name now reaches the first site, as any unknown name does.
        expect(await served("blog", "")).toMatch(/Do-It/);
        expect(fs.readFileSync(path.join(host.rootfs, platforms.debian.nginxSiteConfPath), "utf8")).not.toContain(blogName);
    });
});
