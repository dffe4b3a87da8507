import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import type * as tls from "node:tls";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NginxParameters, type NginxProject, type NginxSite, renderNginxConf } from "../../lib/nginxParameters";
import { createTempDir, freePort, issueTestCertificate, makeTestCa, type Reply, request, startStubReceiver, type StubReceiver, tempDir, TestNginx } from "./support";

/**
 * Many sites on one nginx, as sites-design.md has them: two top-level sites with names that
 * redirect, a project site under the first, the second published from a folder. The rendered
 * config runs in the real nginx on loopback ports, in front of a stub receiver, without TLS and
 * with a certificate per site.
 */

const mtime = new Date("2024-03-01T12:00:00Z");
/** A fleet server's own address, where GitHub delivers its hooks. */
const serverAddress = "192.0.2.7";

const main = { canonical: "main.test", redirects: ["www.main.test"] };
const event = { canonical: "event.test", redirects: ["www.event.test", "event.example"] };
const js = (label: string) => Buffer.from(`"use strict";\n${Array.from({ length: 40 }, (_, i) => `export const ${label}${i} = ${i}; // fingerprinted asset line ${i}`).join("\n")}\n`);
const mainJs = js("main");
const docsJs = js("docs");

/** Writes `files` as release r1 of a site under `dir` and points `current` at it; returns `current`. */
function writeRelease(dir: string, files: Record<string, Buffer | string>): string {
    writeReleaseAs(dir, "r1", files);
    fs.symlinkSync("releases/r1", path.join(dir, "current"));
    return path.join(dir, "current");
}

function writeReleaseAs(dir: string, id: string, files: Record<string, Buffer | string>): void {
    const release = path.join(dir, "releases", id);
    for (const [name, content] of Object.entries(files)) {
        const file = path.join(release, name);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content);
        fs.utimesSync(file, mtime, mtime);
    }
}

function writeSites(dir: string): { main: string; docs: string; event: string } {
    return {
        main: writeRelease(path.join(dir, "main"), {
            "index.html": "main home\n",
            "404.html": "main 404\n",
            "about.html": "main about\n",
            "assets/app.0123abcd.js": mainJs,
            // The site's own files under the project's path: hidden by the project.
            "docs/index.html": "main's own docs page\n",
            "docs/assets/app.89abcdef.js": "main's own copy\n",
            "docs/only-in-main.html": "main only\n",
            ".selfpages-commit": `${"a".repeat(40)}\n`,
        }),
        docs: writeRelease(path.join(dir, "docs"), {
            "index.html": "docs home\n",
            "404.html": "docs 404\n",
            "guide.html": "docs guide\n",
            "sub/index.html": "docs sub\n",
            "assets/app.89abcdef.js": docsJs,
            "assets/app.89abcdef.js.br": zlib.brotliCompressSync(docsJs),
            "assets/app.89abcdef.js.gz": zlib.gzipSync(docsJs, { level: 9 }),
            ".selfpages-commit": `${"b".repeat(40)}\n`,
            ".git/config": "[core]\n",
        }),
        // Published from /docs: the repository's other files are outside what is served.
        event: `${writeRelease(path.join(dir, "event"), {
            "README.md": "event readme, not published\n",
            "docs/index.html": "event home\n",
            "docs/404.html": "event 404\n",
        })}/docs`,
    };
}

describe.each(["plain", "tls"] as const)("nginx with three sites on one server (%s)", (mode) => {
    const dir = tempDir(`nginx-sites-${mode}`);
    const nginx = new TestNginx(dir);
    const scheme = mode === "tls" ? "https" : "http";
    let port = 0;
    let httpPort = 0;
    let stubPort = 0;
    let ca: Buffer = Buffer.alloc(0);
    let stub: StubReceiver | undefined;
    let content = "";
    /** With TLS this nginx is a fleet's peer: a stub lead holds the challenges it misses. */
    let lead: http.Server | undefined;
    const leadAsked: { url: string; host: string }[] = [];
    const calls = () => stub?.received ?? [];

    /** One request to the sites' port as a browser naming `host` would send it (SNI included). */
    function get(host: string, urlPath: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply & { certificate?: tls.PeerCertificate }> {
        const method = options.method ?? "GET";
        const headers = { host, ...options.headers };
        if (mode === "plain") return request(port, method, urlPath, { headers, body: options.body });
        return new Promise((resolve, reject) => {
            const req = https.request({ host: "127.0.0.1", port, method, path: urlPath, headers, servername: host, ca, agent: false }, (res) => {
                const chunks: Buffer[] = [];
                const certificate = res.socket && "getPeerCertificate" in res.socket ? (res.socket as tls.TLSSocket).getPeerCertificate() : undefined;
                res.on("data", (chunk: Buffer) => chunks.push(chunk));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), certificate }));
                res.on("error", reject);
            });
            req.on("error", reject);
            req.end(options.body);
        });
    }

    beforeAll(async () => {
        createTempDir(dir);
        fs.chmodSync(dir, 0o755);
        [port, httpPort, stubPort] = [await freePort(), await freePort(), await freePort()];
        const leadPort = await freePort();
        lead = http.createServer((req, res) => {
            leadAsked.push({ url: req.url ?? "", host: req.headers.host ?? "" });
            const found = req.url === "/.well-known/acme-challenge/lead-t0ken";
            res.writeHead(found ? 200 : 404, { "content-type": "text/plain" });
            res.end(found ? "lead-t0ken.thumbprint" : "not on the lead");
        });
        await new Promise<void>((resolve) => lead?.listen(leadPort, "127.0.0.1", resolve));
        const roots = writeSites(dir);
        const webroot = path.join(dir, "acme");
        fs.mkdirSync(path.join(webroot, ".well-known", "acme-challenge"), { recursive: true });
        fs.writeFileSync(path.join(webroot, ".well-known", "acme-challenge", "t0ken"), "t0ken.thumbprint");
        if (mode === "tls") ca = await makeTestCa(dir);
        // A top-level site named after its hook, with its own certificate for all its names when TLS is on.
        const topLevel = async (name: string, names: typeof main, root: string, projects: NginxProject[]): Promise<NginxSite> => ({
            name,
            canonicalName: names.canonical,
            redirectNames: names.redirects,
            root,
            certificate: mode === "tls" ? await issueTestCertificate(dir, [names.canonical, ...names.redirects], `${name}-`) : undefined,
            hook: { path: "/webhook", id: name },
            projects,
        });
        const parameters: NginxParameters = {
            listenPort: port,
            httpPort,
            http2Directive: false,
            hstsMaxAge: 0,
            tls: mode === "tls" ? { webroot, challengeFallback: `http://127.0.0.1:${leadPort}` } : false,
            receiverPort: stubPort,
            sites: [
                await topLevel("main", main, roots.main, [{ name: "docs", path: "/docs/", root: roots.docs, hook: { path: "/docs/webhook", id: "docs" } }]),
                await topLevel("event", event, roots.event, []),
            ],
            serverHooks: {
                address: serverAddress,
                hooks: ["main", "docs", "event"].map((id) => ({ path: `/webhook/${id}`, id })),
                // event's release names no commit; fresh was never deployed (no `current` yet).
                commits: ["main", "docs", "event", "fresh"].map((site) => ({ site, path: `/selfpages/${site}/commit`, file: path.join(dir, site, "current", ".selfpages-commit") })),
            },
        };
        content = await nginx.configure(renderNginxConf(parameters));
        stub = await startStubReceiver(stubPort);
    });

    afterAll(async () => {
        expect(await nginx.stop(), "nginx still running").toBe(true);
        await new Promise<void>((resolve) => (stub ? stub.server.close(() => resolve()) : resolve()));
        lead?.closeAllConnections();
        await new Promise<void>((resolve) => (lead ? lead.close(() => resolve()) : resolve()));
        stub?.server.closeAllConnections();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("renders one default server per port, the first site's, and the cache map once", () => {
        const ports = mode === "tls" ? [port, httpPort] : [port];
        for (const p of ports) {
            expect(content.match(new RegExp(`listen ${p}\\b[^;]*default_server;`, "g")), `port ${p}`).toHaveLength(1);
            expect(content).toMatch(new RegExp(`listen ${p}\\b[^;]*default_server;\\n(.*\\n)*?\\s*server_name ${main.canonical}[ ;]`));
        }
        expect(content.match(/map \$sent_http_content_type/g)).toHaveLength(1);
    });

    it("passes nginx -t", async () => {
        const stderr = await nginx.check();
        expect(stderr).toMatch(/test is successful/);
        expect(stderr).not.toMatch(/\[warn\]|\[emerg\]/);
    });

    it("starts", async () => {
        await nginx.start(...(mode === "tls" ? [port, httpPort] : [port]));
    });

    it("serves each canonical name from its own root; a folder site only its folder", async () => {
        const home = await get(main.canonical, "/");
        expect(home.status).toBe(200);
        expect(home.body.toString()).toBe("main home\n");
        expect(home.headers["cache-control"]).toBe("no-cache");
        expect((await get(main.canonical, "/about")).body.toString()).toBe("main about\n");
        const eventHome = await get(event.canonical, "/");
        expect(eventHome.status).toBe(200);
        expect(eventHome.body.toString()).toBe("event home\n");
        // The event site has no /about and no /docs/ project; its repository's root is not served.
        for (const p of ["/about", "/README.md", "/docs/README.md", "/docs/guide"]) {
            const res = await get(event.canonical, p);
            expect(res.status, p).toBe(404);
            expect(res.body.toString(), p).toBe("event 404\n");
        }
        if (mode === "tls") {
            expect(home.certificate?.subject.CN).toBe(main.canonical);
            expect(eventHome.certificate?.subject.CN).toBe(event.canonical);
        }
    });

    it("answers every redirect name with 301 to its site's canonical name, path and query kept", async () => {
        for (const site of [main, event]) {
            for (const name of site.redirects) {
                for (const p of ["/", "/about?x=1&y=2", "/docs/guide", "/webhook"]) {
                    const res = await get(name, p);
                    expect(res.status, `${name}${p}`).toBe(301);
                    expect(res.headers.location, `${name}${p}`).toBe(`${scheme}://${site.canonical}${p}`);
                    // With TLS the handshake verified this name against the site's one certificate.
                    if (mode === "tls") expect(res.certificate?.subject.CN, name).toBe(site.canonical);
                }
            }
        }
    });

    it("serves the project site at its path from its own release: pages, directories, fingerprinted assets", async () => {
        for (const [p, body] of [["/docs/", "docs home\n"], ["/docs/index.html", "docs home\n"], ["/docs/guide", "docs guide\n"], ["/docs/guide.html", "docs guide\n"], ["/docs/sub/", "docs sub\n"]]) {
            const res = await get(main.canonical, p);
            expect(res.status, p).toBe(200);
            expect(res.body.toString(), p).toBe(body);
            expect(res.headers["cache-control"], p).toBe("no-cache");
        }
        // A directory without its slash gets it, as the parent's directories do.
        const directory = await get(main.canonical, "/docs/sub?x=1");
        expect(directory.status).toBe(301);
        expect(directory.headers.location).toMatch(new RegExp(`^${scheme}://${main.canonical}(:${port})?/docs/sub/\\?x=1$`));
        // The project's asset, not the parent's file at the same path, precompressed and immutable.
        const asset = await get(main.canonical, "/docs/assets/app.89abcdef.js", { headers: { "accept-encoding": "gzip, br" } });
        expect(asset.status).toBe(200);
        expect(asset.headers["content-encoding"]).toBe("br");
        expect(zlib.brotliDecompressSync(asset.body).equals(docsJs)).toBe(true);
        expect(asset.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
        const plain = await get(main.canonical, "/docs/assets/app.89abcdef.js");
        expect(plain.body.equals(docsJs)).toBe(true);
        expect(plain.headers["content-encoding"]).toBeUndefined();
        expect(plain.headers.vary).toMatch(/^Accept-Encoding$/i);
        // The parent's own asset is still the parent's.
        const parentAsset = await get(main.canonical, "/assets/app.0123abcd.js");
        expect(parentAsset.body.equals(mainJs)).toBe(true);
        expect(parentAsset.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    });

    it("redirects the project's path without its slash, query kept", async () => {
        for (const [p, target] of [["/docs", "/docs/"], ["/docs?v=1", "/docs/?v=1"]]) {
            const res = await get(main.canonical, p);
            expect(res.status, p).toBe(301);
            // nginx makes the Location absolute, with the port when it is not the scheme's.
            expect(res.headers.location?.replace(`:${port}/`, "/"), p).toBe(`${scheme}://${main.canonical}${target}`);
        }
    });

    it("answers a missing project path with the project's 404 page, the parent's files under it included", async () => {
        for (const p of ["/docs/nope", "/docs/only-in-main.html", "/docs/assets/gone.0123abcd.js", "/docs/404.html", "/docs/.selfpages-commit", "/docs/.git/config"]) {
            const res = await get(main.canonical, p);
            expect(res.status, p).toBe(404);
            expect(res.body.toString(), p).toBe("docs 404\n");
        }
    });

    it("answers the parent's other missing paths with the parent's 404 page", async () => {
        for (const p of ["/nope", "/docsx", "/docs.html", "/404.html", "/.selfpages-commit", "/assets/gone.0123abcd.js"]) {
            const res = await get(main.canonical, p);
            expect(res.status, p).toBe(404);
            expect(res.body.toString(), p).toBe("main 404\n");
        }
    });

    it("proxies each site's hook path to the receiver's hook for that site; GET is 405", async () => {
        for (const [host, p, id] of [[main.canonical, "/webhook", "main"], [main.canonical, "/docs/webhook", "docs"], [event.canonical, "/webhook", "event"]]) {
            const before = calls().length;
            const res = await get(host, p, { method: "POST", headers: { "content-type": "application/json", "x-github-event": "push" }, body: '{"ref":"refs/heads/gh-pages"}' });
            expect(res.status, `${host}${p}`).toBe(202);
            expect(calls().length, `${host}${p}`).toBe(before + 1);
            expect(calls()[before].url).toBe(`/hooks/${id}`);
            expect(calls()[before].headers.host).toBe(host);
            const refused = await get(host, p);
            expect(refused.status, `GET ${host}${p}`).toBe(405);
            expect(refused.headers.allow).toBe("POST");
        }
        // The event site has no project, so no project hook: a POST there is a static miss.
        const before = calls().length;
        expect((await get(event.canonical, "/docs/webhook", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(404);
        expect(calls().length).toBe(before);
    });

    it("a fleet server: each site's hook at the server's own address, on the plain port; nothing else there", async () => {
        for (const id of ["main", "docs", "event"]) {
            const before = calls().length;
            const res = await request(httpPort, "POST", `/webhook/${id}`, { headers: { host: serverAddress, "content-type": "application/json", "x-github-event": "push" }, body: '{"ref":"refs/heads/gh-pages"}' });
            expect(res.status, id).toBe(202);
            expect(calls()[before].url).toBe(`/hooks/${id}`);
            expect((await request(httpPort, "GET", `/webhook/${id}`, { headers: { host: serverAddress } })).status).toBe(405);
        }
        const before = calls().length;
        for (const p of ["/", "/index.html", "/webhook", "/webhook/nope"]) expect((await request(httpPort, "POST", p, { headers: { host: serverAddress }, body: "{}" })).status, p).toBe(404);
        expect(calls().length).toBe(before);
    });

    it("a fleet server: tells at its own address which commit it serves for each site, read anew at each request, never cached; 404 before a first deploy", async () => {
        const commitOf = (site: string) => request(httpPort, "GET", `/selfpages/${site}/commit`, { headers: { host: serverAddress } });
        for (const [site, commit] of [["main", "a".repeat(40)], ["docs", "b".repeat(40)]]) {
            const res = await commitOf(site);
            expect([res.status, res.body.toString()], site).toEqual([200, `${commit}\n`]);
            expect(res.headers["content-type"]).toBe("text/plain");
            expect(res.headers["cache-control"]).toBe("no-store");
        }
        for (const site of ["event", "fresh", "nope"]) {
            const res = await commitOf(site);
            expect(res.status, site).toBe(404);
            if (site !== "nope") expect(res.headers["cache-control"]).toBe("no-store");
        }
        // A deploy switches `current` with a rename: the next request answers the new commit.
        const docs = path.join(dir, "docs");
        writeReleaseAs(docs, "r2", { ".selfpages-commit": `${"c".repeat(40)}\n` });
        fs.symlinkSync("releases/r2", path.join(docs, "current.new"));
        fs.renameSync(path.join(docs, "current.new"), path.join(docs, "current"));
        try {
            expect((await commitOf("docs")).body.toString()).toBe(`${"c".repeat(40)}\n`);
        } finally {
            fs.symlinkSync("releases/r1", path.join(docs, "current.old"));
            fs.renameSync(path.join(docs, "current.old"), path.join(docs, "current"));
        }
        expect((await commitOf("docs")).body.toString()).toBe(`${"b".repeat(40)}\n`);
        // Not under the sites' names: there it is a path of the site like any other.
        const bySite = await get(main.canonical, "/selfpages/main/commit");
        expect([bySite.status, bySite.body.toString()]).toEqual([404, "main 404\n"]);
    });

    it("gives a request for a name no site has to the first site", async () => {
        if (mode === "plain") {
            expect((await get("unknown.test", "/")).body.toString()).toBe("main home\n");
            expect((await get("unknown.test", "/docs/")).body.toString()).toBe("docs home\n");
            return;
        }
        // No certificate names it: the handshake gets the first site's.
        const res = await new Promise<{ body: string; cn: string }>((resolve, reject) => {
            const req = https.request({ host: "127.0.0.1", port, path: "/", headers: { host: "unknown.test" }, servername: "unknown.test", ca, agent: false, checkServerIdentity: () => undefined }, (r) => {
                const cn = String((r.socket as tls.TLSSocket).getPeerCertificate().subject.CN);
                let body = "";
                r.on("data", (c: Buffer) => (body += c.toString()));
                r.on("end", () => resolve({ body, cn }));
            });
            req.on("error", reject);
            req.end();
        });
        expect(res).toEqual({ body: "main home\n", cn: main.canonical });
    });

    it.runIf(mode === "tls")("plain HTTP: each site's names get the ACME challenge and a 301 to https on their canonical name", async () => {
        for (const site of [main, event]) {
            for (const name of [site.canonical, ...site.redirects]) {
                const challenge = await request(httpPort, "GET", "/.well-known/acme-challenge/t0ken", { headers: { host: name } });
                expect(challenge.status, name).toBe(200);
                expect(challenge.body.toString()).toBe("t0ken.thumbprint");
                const res = await request(httpPort, "GET", "/docs/guide?x=1", { headers: { host: name } });
                expect(res.status, name).toBe(301);
                expect(res.headers.location, name).toBe(`https://${site.canonical}/docs/guide?x=1`);
            }
        }
        const unknown = await request(httpPort, "GET", "/a", { headers: { host: "unknown.test" } });
        expect(unknown.headers.location).toBe(`https://${main.canonical}/a`);
    });

    it.runIf(mode === "tls")("a fleet's peer: a challenge missing here is asked of the lead with the name the CA asked for; one it holds is not", async () => {
        for (const name of [main.canonical, ...main.redirects, event.canonical]) {
            const before = leadAsked.length;
            const res = await request(httpPort, "GET", "/.well-known/acme-challenge/lead-t0ken", { headers: { host: name } });
            expect(res.status, name).toBe(200);
            expect(res.body.toString(), name).toBe("lead-t0ken.thumbprint");
            expect(leadAsked.slice(before), name).toEqual([{ url: "/.well-known/acme-challenge/lead-t0ken", host: name }]);
        }
        // Held here: served from the webroot, the lead not asked.
        const before = leadAsked.length;
        expect((await request(httpPort, "GET", "/.well-known/acme-challenge/t0ken", { headers: { host: main.canonical } })).body.toString()).toBe("t0ken.thumbprint");
        expect(leadAsked.length).toBe(before);
        // Missing on both: the lead's 404 as it is.
        const missing = await request(httpPort, "GET", "/.well-known/acme-challenge/nowhere", { headers: { host: event.canonical } });
        expect(missing.status).toBe(404);
        expect(leadAsked.slice(before)).toEqual([{ url: "/.well-known/acme-challenge/nowhere", host: event.canonical }]);
        // Only the challenge path goes to the lead.
        expect((await request(httpPort, "GET", "/.well-known/other", { headers: { host: main.canonical } })).status).toBe(301);
        expect(leadAsked.length).toBe(before + 1);
    });

    it("stops cleanly", async () => {
        expect(await nginx.stop("SIGQUIT")).toBe(true);
        expect(nginx.errorLog()).not.toMatch(/\[(emerg|alert|crit)\]/);
    });
});

describe("renderNginxConf refuses parameters the template cannot serve", () => {
    const site = { name: "main", canonicalName: "main.test", redirectNames: [], root: "/srv/main/current", hook: { path: "/webhook", id: "main" }, projects: [] };
    const base: NginxParameters = { listenPort: 80, httpPort: 80, http2Directive: false, hstsMaxAge: 0, tls: false, receiverPort: 9000, sites: [site] };

    it("renders the valid base", () => {
        expect(renderNginxConf(base)).toContain("server_name main.test;");
    });

    it("no site: nothing would be the default server", () => {
        expect(() => renderNginxConf({ ...base, sites: [] })).toThrow(/no site to serve/);
    });

    it("a challenge fallback that is not http://host[:port]", () => {
        const certificate = { certificate: "/c.pem", key: "/k.pem" };
        for (const bad of ["https://lead", "http://lead/path", "lead", "http://lead;evil", "http://le ad"]) {
            expect(() => renderNginxConf({ ...base, tls: { webroot: "/w", challengeFallback: bad }, sites: [{ ...site, certificate }] }), bad).toThrow(/challenge fallback/);
        }
        for (const good of ["http://203.0.113.10", "http://[2001:db8::1]", "http://lead.example.org:8080"]) {
            expect(renderNginxConf({ ...base, tls: { webroot: "/w", challengeFallback: good }, sites: [{ ...site, certificate }] }), good).toContain(`proxy_pass ${good};`);
        }
    });

    it("TLS on and a site without its certificate", () => {
        expect(() => renderNginxConf({ ...base, listenPort: 443, tls: { webroot: "/var/lib/acme" } })).toThrow(/site main has no certificate/);
    });

    it("a project path that is not one segment between slashes", () => {
        for (const bad of ["docs", "/docs", "docs/", "/a/b/", "/do cs/", "/{x}/"]) {
            const sites = [{ ...site, projects: [{ name: "docs", path: bad, root: "/srv/docs/current", hook: { path: "/docs/webhook", id: "docs" } }] }];
            expect(() => renderNginxConf({ ...base, sites }), bad).toThrow(/project docs's path must be one segment/);
        }
    });
});
