/**
 * Many sites with HTTPS: a certificate per site with names, from pebble through uacme on the host,
 * each covering all of its site's names; a project site served under its parent's certificate;
 * each site's hook delivered over TLS. Steps run in order and share the stack.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSandbox, tlsServerNames, type Sandbox } from "../../sandbox/build";
import type { SandboxHost } from "../../sandbox/hostInstance";
import { hostRun, httpsGet, waitFor } from "./support";

const isRoot = process.getuid?.() === 0;
const blogName = "blog.selfpages.test";
const repositories = { main: "selfpages/site", docs: "selfpages/docs", blog: "selfpages/blog" } as const;

describe.skipIf(!isRoot)("many sites with HTTPS (pebble)", () => {
    let env: Sandbox;
    let host: SandboxHost;
    let stack: Stack;
    let root = "";

    beforeAll(async () => {
        env = await buildSandbox({
            name: "sitestls",
            tls: true,
            sites: [
                { name: "main", repository: repositories.main },
                { name: "docs", repository: repositories.docs, folder: "/docs", parent: "main", path: "docs" },
                { name: "blog", repository: repositories.blog, serverNames: [blogName] },
            ],
        });
        ({ host, stack } = env);
        root = await env.acme.rootCa();
    });

    afterAll(async () => {
        await env?.close();
    });

    it("1. the first up issues one certificate per site with names, each for all its names", async () => {
        const result = await stack.up();
        expect(result.summary.result).toBe("succeeded");
        const main = await httpsGet(host.address, root, tlsServerNames[0]);
        expect(main.status).toBe(200);
        expect(main.alpn).toBe("h2");
        expect(main.certificate.subjectaltname).toBe(tlsServerNames.map((n) => `DNS:${n}`).join(", "));
        expect(main.certificate.issuer.CN).toMatch(/^Pebble Intermediate/);
        // The other name of main: its certificate, and a 301 to the canonical name.
        const www = await httpsGet(host.address, root, tlsServerNames[1], "/style.css");
        expect(www.status).toBe(301);
        expect(www.headers.location).toBe(`https://${tlsServerNames[0]}/style.css`);
        expect(www.certificate.serialNumber).toBe(main.certificate.serialNumber);

        const blog = await httpsGet(host.address, root, blogName);
        expect(blog.status).toBe(200);
        expect(blog.certificate.subjectaltname).toBe(`DNS:${blogName}`);
        expect(blog.certificate.serialNumber).not.toBe(main.certificate.serialNumber);

        const docs = await httpsGet(host.address, root, tlsServerNames[0], "/docs/");
        expect(docs.status).toBe(200);
        expect(docs.body).toMatch(/Documentation, page 1/);
        expect(docs.certificate.serialNumber).toBe(main.certificate.serialNumber);

        // Each site's certificate in its own directory, root's alone; the project site has none.
        for (const site of ["main", "blog"]) {
            expect((await hostRun(host.name, `stat -c '%a %U' /etc/selfpages/tls/${site}/privkey.pem`)).output.trim()).toBe("600 root");
        }
        expect(fs.existsSync(path.join(host.rootfs, "etc/selfpages/tls/docs"))).toBe(false);
        const log = fs.readFileSync(path.join(host.rootfs, "var/log/selfpages/acme.log"), "utf8");
        expect(log.match(/installed the certificate for/g)).toHaveLength(2);
        expect(log.match(/account registered/g)).toHaveLength(1);
    });

    it("2. each site's hook is https; a push to each is delivered over TLS and served", async () => {
        const outputs = await stack.outputs();
        const sites = outputs.sites.value as Record<string, { webhookUrl: string }>;
        expect(sites.docs.webhookUrl).toBe(`https://${tlsServerNames[0]}/docs/webhook`);
        expect(sites.blog.webhookUrl).toBe(`https://${blogName}/webhook`);
        for (const [site, repository] of Object.entries(repositories)) {
            const [hook] = env.standin.hooks(repository);
            expect(hook.config.url, site).toBe(sites[site].webhookUrl);
            expect(hook.config.insecure_ssl).toBe("0");
        }
        const served = async (name: string, file: string) => (await httpsGet(host.address, root, name, file)).body;
        const pushes = [
            { repository: repositories.main, file: "version.txt", name: tlsServerNames[0], url: "/version.txt" },
            { repository: repositories.docs, file: "docs/version.txt", name: tlsServerNames[0], url: "/docs/version.txt" },
            { repository: repositories.blog, file: "version.txt", name: blogName, url: "/version.txt" },
        ];
        for (const push of pushes) {
            const token = crypto.randomBytes(8).toString("hex");
            const sha = env.publisherOf(push.repository).publish({ [push.file]: token }, `over TLS ${token}`);
            const [delivery] = await env.standin.sendPush(push.repository, { ref: "refs/heads/gh-pages", after: sha });
            expect(delivery.status_code, push.repository).toBe(202);
            await waitFor(`${push.repository}'s push over TLS`, async () => (await served(push.name, push.url)) === token, 30_000, 100);
        }
    });

    it("3. the daily job checks every certificate and contacts the CA for none that is not due", async () => {
        const daily = await hostRun(host.name, "/etc/cron.daily/selfpages-acme; echo status=$?");
        expect(daily.output.trim()).toBe("status=0");
        const job = fs.readFileSync(path.join(host.rootfs, "etc/cron.daily/selfpages-acme"), "utf8");
        expect(job).toContain("/etc/selfpages/sites/main/acme.conf");
        expect(job).toContain("/etc/selfpages/sites/blog/acme.conf");
        expect(job).not.toContain("/etc/selfpages/sites/docs/");
    });
});
