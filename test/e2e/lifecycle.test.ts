/**
 * The whole mission, for real: the Pulumi engine built from Go modules runs this repository's
 * program against a sandbox host (debootstrap'd Debian with OpenRC, sshd, nginx, webhook, cron,
 * in its own network namespace), with a git origin served over git:// and a GitHub stand-in that
 * follows GitHub's OpenAPI description. Steps run in order and share the stack.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSandbox, type Sandbox } from "../../sandbox/build";
import type { GitHubStandin } from "../../sandbox/github/server";
import { hostExec, privateKeyOf, type SandboxHost } from "../../sandbox/hostInstance";
import type { SitePublisher } from "../../sandbox/origin";
import { repoRoot } from "../../toolchain/env";
import { exportStack, get, privateKeyLines, recordFigure, waitFor, worldReadableFiles } from "./support";

const isRoot = process.getuid?.() === 0;
const repository = "selfpages/site";
const stackName = "e2e";
const figuresFile = path.join(repoRoot, "bench", "e2e-figures.json");

describe.skipIf(!isRoot)("pulumi up against a real SSH host", () => {
    let host: SandboxHost;
    let standin: GitHubStandin;
    let stack: Stack;
    let publisher: SitePublisher;
    let env: Sandbox;
    /** Everything the engine printed, searched for secrets at the end. */
    const engineOutput: string[] = [];
    const onOutput = (line: string) => engineOutput.push(line);
    let siteUrl: string;
    const secretsSeen = new Set<string>();

    const served = async (file: string) => (await get(`${siteUrl}${file}`)).body.toString();
    const hookOf = () => {
        const hooks = standin.hooks(repository);
        expect(hooks).toHaveLength(1);
        return hooks[0];
    };
    const receiverPid = () => hostExec(host.name, "pidof webhook || true").trim();

    beforeAll(async () => {
        // A fallback sync that never runs on its own during the test (midnight on the 1st of January):
        // step 4 asserts that a commit on the branch is not deployed by a rejected delivery, which
        // a cron run at the quarter hour would deploy. Step 8 turns it to every minute.
        env = await buildSandbox({ name: stackName, config: { syncSchedule: "0 0 1 1 *" } });
        ({ host, standin, stack, publisher, siteUrl } = env);
    });

    afterAll(async () => {
        await env?.close();
    });

    it("1. up from a bare host serves the site, precompressed and with caching headers", async () => {
        const started = Date.now();
        const result = await stack.up({ onOutput });
        recordFigure(figuresFile, "upFromBareSeconds", (Date.now() - started) / 1000);
        expect(result.summary.result).toBe("succeeded");

        const home = await get(`${siteUrl}/`);
        expect(home.status).toBe(200);
        expect(home.headers.get("cache-control")).toBe("no-cache");
        expect(home.headers.get("server")).toBe("nginx");

        const css = await get(`${siteUrl}/style.css`, { "accept-encoding": "gzip" });
        expect(css.status).toBe(200);
        expect(css.headers.get("content-encoding")).toBe("gzip");
        expect(css.headers.get("vary")).toMatch(/accept-encoding/i);
        // A browser accepts brotli: the .br the sync wrote, smaller than the .gz.
        const brCss = await get(`${siteUrl}/style.css`, { "accept-encoding": "gzip, deflate, br" });
        expect(brCss.status).toBe(200);
        expect(brCss.headers.get("content-encoding")).toBe("br");
        expect(brCss.headers.get("vary")).toMatch(/accept-encoding/i);
        expect(Number(brCss.headers.get("content-length"))).toBeLessThan(Number(css.headers.get("content-length")));
        const plainCss = await get(`${siteUrl}/style.css`);
        expect(plainCss.headers.get("content-encoding")).toBeNull();
        // Same mtime as the source: the same Last-Modified whichever representation is sent.
        expect(css.headers.get("last-modified")).toBe(plainCss.headers.get("last-modified"));
        expect(brCss.headers.get("last-modified")).toBe(plainCss.headers.get("last-modified"));

        const assets = hostExec(host.name, "ls /srv/selfpages/sites/selfpages/current/assets").split("\n").filter((f) => /\.[0-9a-f]{8,}\.js$/.test(f));
        expect(assets.length).toBeGreaterThan(0);
        const fingerprinted = await get(`${siteUrl}/assets/${assets[0]}`);
        expect(fingerprinted.headers.get("cache-control")).toMatch(/max-age=31536000.*immutable/);

        const missing = await get(`${siteUrl}/no-such-page`);
        expect(missing.status).toBe(404);
        expect((await get(`${siteUrl}/.selfpages-complete`)).status).toBe(404);
    });

    it("2. the stand-in holds exactly one hook with the generated secret, and its ping got a 2xx", async () => {
        const hook = hookOf();
        expect(hook.config.url).toBe(`http://${host.address}/webhook`);
        const hooksJson = JSON.parse(fs.readFileSync(path.join(host.rootfs, "etc/selfpages/hooks.json"), "utf8")) as Array<{ "trigger-rule": { or: Array<{ match: { secret: string } }> } }>;
        const accepted = hooksJson[0]["trigger-rule"].or.map((m) => m.match.secret);
        expect(accepted).toEqual([hook.config.secret]);
        secretsSeen.add(hook.config.secret as string);
        const ping = await waitFor("the ping delivery", async () => standin.deliveries(repository).find((d) => d.event === "ping"), 10_000);
        expect(ping.status_code).toBeGreaterThanOrEqual(200);
        expect(ping.status_code).toBeLessThan(300);
    });

    it("3. a push delivered through nginx is served; delivery-to-served latency recorded", async () => {
        const token = crypto.randomBytes(8).toString("hex");
        const sha = publisher.publish({ "version.txt": token }, "step 3");
        const sentAt = Date.now();
        const [delivery] = await standin.sendPush(repository, { ref: "refs/heads/gh-pages", after: sha });
        expect(delivery.status_code).toBe(202);
        expect(delivery.duration).toBeLessThan(2);
        await waitFor("the pushed commit to be served", async () => (await served("/version.txt")) === token, 30_000, 50);
        const latencyMs = Date.now() - sentAt;
        recordFigure(figuresFile, "deliveryToServedMs", latencyMs);
        console.log(`delivery-to-served latency: ${latencyMs} ms`);
    });

    it("4. deliveries with a bad signature, for another branch or another repository change nothing", async () => {
        const before = await served("/version.txt");
        const hook = hookOf();
        const sha = publisher.publish({ "version.txt": "must-not-be-served" }, "step 4");
        const push = (overrides: Record<string, unknown>) =>
            JSON.stringify({ ref: "refs/heads/gh-pages", after: sha, repository: { full_name: repository, name: "site", owner: { login: "selfpages" } }, ...overrides });

        const badSignature = await standin.sendRaw(repository, hook.id, { event: "push", body: push({}), signWith: "not-the-secret" });
        expect(badSignature.status_code).toBe(403);
        const unsigned = await standin.sendRaw(repository, hook.id, { event: "push", body: push({}), signWith: null });
        expect(unsigned.status_code).toBe(403);
        const otherBranch = await standin.sendPush(repository, { ref: "refs/heads/main", after: sha });
        expect(otherBranch[0].status_code).toBe(202);
        const otherRepository = await standin.sendRaw(repository, hook.id, {
            event: "push",
            body: push({ repository: { full_name: "someone/else", name: "else", owner: { login: "someone" } } }),
            signWith: hook.config.secret as string,
        });
        expect(otherRepository.status_code).toBe(202);

        await new Promise((resolve) => setTimeout(resolve, 4000));
        expect(await served("/version.txt")).toBe(before);
        const log = fs.readFileSync(path.join(host.rootfs, "var/log/selfpages/sites/selfpages/sync.log"), "utf8");
        expect(log).toMatch(/ignor/i);

        // Deliver it properly so the next steps start from a served HEAD.
        await standin.sendPush(repository, { ref: "refs/heads/gh-pages", after: sha });
        await waitFor("HEAD to be served", async () => (await served("/version.txt")) === "must-not-be-served", 30_000);
    });

    it("5. a second up, and a preview, report zero changes", async () => {
        let started = Date.now();
        const up = await stack.up({ onOutput });
        recordFigure(figuresFile, "upNoopSeconds", (Date.now() - started) / 1000);
        const changed = Object.entries(up.summary.resourceChanges ?? {}).filter(([op]) => op !== "same");
        expect(changed).toEqual([]);
        started = Date.now();
        const preview = await stack.preview({ onOutput, diff: true });
        recordFigure(figuresFile, "previewNoopSeconds", (Date.now() - started) / 1000);
        expect(Object.entries(preview.changeSummary).filter(([op]) => op !== "same")).toEqual([]);
    });

    it("6. rotating the secret: new secret deploys, old is refused, no delivery failed meanwhile", async () => {
        const oldSecret = hookOf().config.secret as string;
        await stack.setConfig("selfpages:webhookSecretVersion", { value: "2" });
        const statuses: number[] = [];
        let rotating = true;
        const loop = (async () => {
            while (rotating) {
                for (const d of await standin.sendPush(repository, { ref: "refs/heads/gh-pages", after: publisher.head() })) statuses.push(d.status_code);
                await new Promise((resolve) => setTimeout(resolve, 200));
            }
        })();
        try {
            const result = await stack.up({ onOutput });
            expect(result.summary.result).toBe("succeeded");
        } finally {
            rotating = false;
            await loop;
        }
        recordFigure(figuresFile, "deliveriesDuringRotation", statuses.length);
        expect(statuses.length).toBeGreaterThan(10);
        expect(statuses.filter((s) => s !== 202)).toEqual([]);

        const newSecret = hookOf().config.secret as string;
        expect(newSecret).not.toBe(oldSecret);
        secretsSeen.add(newSecret);
        const hook = hookOf();
        const token = crypto.randomBytes(8).toString("hex");
        const sha = publisher.publish({ "version.txt": token }, "step 6");
        const body = JSON.stringify({ ref: "refs/heads/gh-pages", after: sha, repository: { full_name: repository } });
        expect((await standin.sendRaw(repository, hook.id, { event: "push", body, signWith: oldSecret })).status_code).toBe(403);
        expect((await standin.sendRaw(repository, hook.id, { event: "push", body, signWith: newSecret })).status_code).toBe(202);
        await waitFor("the commit delivered with the new secret", async () => (await served("/version.txt")) === token, 30_000);
    });

    it("7. killing the receiver: supervise-daemon brings it back", async () => {
        const before = receiverPid();
        expect(before).not.toBe("");
        hostExec(host.name, "kill -KILL $(pidof webhook)");
        const after = await waitFor("a new receiver process", async () => {
            const pid = receiverPid();
            return pid !== "" && pid !== before ? pid : undefined;
        }, 20_000);
        expect(after).not.toBe(before);
        const [delivery] = await waitFor("the receiver to answer again", async () => {
            const sent = await standin.sendPush(repository, { ref: "refs/heads/gh-pages", after: publisher.head() });
            return sent[0].status_code === 202 ? sent : undefined;
        }, 20_000, 500);
        expect(delivery.status_code).toBe(202);
    });

    it("8. with the webhook path cut, the cron fallback deploys a push", async () => {
        await stack.setConfig("selfpages:syncSchedule", { value: "* * * * *" });
        const up = await stack.up({ onOutput });
        // Only the crontab changes.
        expect(up.summary.resourceChanges?.update).toBe(1);
        expect(hostExec(host.name, "crontab -u selfpages -l")).toMatch(/^\* \* \* \* \* \/usr\/local\/lib\/selfpages\/sync --conf \/etc\/selfpages\/sites\/selfpages\/sync\.conf cron/m);
        hostExec(host.name, "rc-service selfpages-receiver stop");
        try {
            const token = crypto.randomBytes(8).toString("hex");
            publisher.publish({ "version.txt": token }, "step 8");
            const started = Date.now();
            await waitFor("cron to deploy the push", async () => (await served("/version.txt")) === token, 150_000, 1000);
            recordFigure(figuresFile, "cronFallbackSeconds", (Date.now() - started) / 1000);
        } finally {
            hostExec(host.name, "rc-service selfpages-receiver start");
        }
    });

    it("9. a hook deleted in the stand-in: refresh sees it gone, up recreates it", async () => {
        const hook = hookOf();
        standin.deleteHookBehindPulumisBack(repository, hook.id);
        await stack.refresh({ onOutput });
        const preview = await stack.preview({ onOutput, diff: true });
        expect(preview.changeSummary.create).toBe(1);
        await stack.up({ onOutput });
        const recreated = hookOf();
        expect(recreated.id).not.toBe(hook.id);
        expect(recreated.config.secret).toBe(hook.config.secret);
    });

    it("10. a host key that does not match the pinned one: up refuses and changes nothing", async () => {
        hostExec(host.name, "cp -p /etc/ssh/ssh_host_ed25519_key /root/saved_key && cp -p /etc/ssh/ssh_host_ed25519_key.pub /root/saved_key.pub");
        hostExec(host.name, "rm -f /etc/ssh/ssh_host_ed25519_key* && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && rc-service ssh restart");
        try {
            await stack.setConfig("selfpages:syncSchedule", { value: "*/15 * * * *" });
            await expect(stack.up({ onOutput })).rejects.toThrow(/host key mismatch/);
            expect(hostExec(host.name, "crontab -u selfpages -l")).toMatch(/^\* \* \* \* \* /m);
        } finally {
            hostExec(host.name, "mv -f /root/saved_key /etc/ssh/ssh_host_ed25519_key && mv -f /root/saved_key.pub /etc/ssh/ssh_host_ed25519_key.pub && rc-service ssh restart");
        }
        const up = await stack.up({ onOutput });
        expect(up.summary.result).toBe("succeeded");
        expect(hostExec(host.name, "crontab -u selfpages -l")).toMatch(/^\*\/15 \* \* \* \* /m);
    });

    it("12. no secret appears in plain text: state, engine output, ps, logs, world-readable files", async () => {
        const secrets = [...secretsSeen, env.githubToken, ...privateKeyLines(privateKeyOf(host))];
        expect(secrets.length).toBeGreaterThanOrEqual(4);
        const state = await exportStack(env);
        expect(state).toContain("secrets_providers");
        const commandLines = hostExec(host.name, "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done 2>/dev/null");
        const logs = hostExec(host.name, "cat /var/log/selfpages/*.log /var/log/nginx/*.log 2>/dev/null || true");
        const files = worldReadableFiles(host.rootfs, ["etc", "var", "srv", "usr/local", "tmp", "root", "home", "run"]);
        for (const secret of secrets) {
            expect(state).not.toContain(secret);
            expect(engineOutput.join("\n")).not.toContain(secret);
            expect(commandLines).not.toContain(secret);
            expect(logs).not.toContain(secret);
            expect(files.filter((f) => f.content.includes(secret)).map((f) => f.file)).toEqual([]);
        }
        // The hooks file holds the secret, readable by the service account alone.
        const stat = fs.statSync(path.join(host.rootfs, "etc/selfpages/hooks.json"));
        expect(stat.mode & 0o077).toBe(0);
    });

    it("11. destroy removes the hook, the services, the cron line and the written files", async () => {
        await stack.destroy({ onOutput });
        expect(standin.hooks(repository)).toEqual([]);
        expect(receiverPid()).toBe("");
        expect(hostExec(host.name, "crontab -u selfpages -l 2>&1 || true")).not.toMatch(/sync cron/);
        for (const gone of ["etc/init.d/selfpages-receiver", "etc/conf.d/selfpages-receiver", "etc/selfpages", "srv/selfpages", "etc/nginx/conf.d/selfpages.conf", "usr/local/lib/selfpages", "var/lib/selfpages"]) {
            expect(fs.existsSync(path.join(host.rootfs, gone)), gone).toBe(false);
        }
        // The distro's default site is back, and nginx still runs: packages and distro services stay.
        expect(fs.existsSync(path.join(host.rootfs, "etc/nginx/sites-enabled/default"))).toBe(true);
        expect(hostExec(host.name, "rc-service nginx status >/dev/null 2>&1 && echo running")).toContain("running");
        expect(hostExec(host.name, "id selfpages 2>&1 || true")).toMatch(/no such user/);
    });
});
