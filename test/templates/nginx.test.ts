import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oneSiteName } from "../../lib/config";
import { hookId, nginxSiteFile } from "../../lib/hostFiles";
import { validConfig } from "../lib/fixtures";
import { childPids, createTempDir, freePort, ipv6Available, isAlive, request, sha256, startStubReceiver, type StubReceiver, tempDir, TestNginx } from "./support";

/**
 * The rendered server block, run by the real nginx on a free loopback port: a minimal nginx.conf
 * around it (everything under a temp dir), `nginx -t`, then a live server in front of a stub
 * receiver, asserting what visitors and GitHub get.
 */

// Fixed mtime shared by each file and its precompressed copy, as the sync script leaves them.
const mtime = new Date("2024-03-01T12:00:00Z");
const css = Buffer.from(`/* site styles */\n${Array.from({ length: 80 }, (_, i) => `.rule-${i} { color: #${(i * 123456).toString(16).padStart(6, "0").slice(0, 6)}; margin: ${i}px; }`).join("\n")}\n`);
const js = Buffer.from(`"use strict";\n${Array.from({ length: 40 }, (_, i) => `export const value${i} = ${i} * 2; // fingerprinted asset line ${i}`).join("\n")}\n`);
const indexHtml = "<!doctype html>\n<title>selfpages test</title>\n<p>Hello from release r1</p>\n";
const notFoundHtml = "<!doctype html>\n<title>Not found</title>\n<p>selfpages 404 page</p>\n";

function writeSite(root: string): void {
    const release = path.join(root, "releases", "r1");
    fs.mkdirSync(path.join(release, "assets"), { recursive: true });
    fs.mkdirSync(path.join(release, ".git"), { recursive: true });
    const files: Record<string, Buffer | string> = {
        "index.html": indexHtml,
        "404.html": notFoundHtml,
        "style.css": css,
        "style.css.gz": zlib.gzipSync(css, { level: 9 }),
        "style.css.br": zlib.brotliCompressSync(css),
        "assets/app.0123abcd.js": js,
        "assets/app.0123abcd.js.gz": zlib.gzipSync(js, { level: 9 }),
        "assets/app.0123abcd.js.br": zlib.brotliCompressSync(js),
        ".selfpages-complete": "",
        ".selfpages-commit": `${"a".repeat(40)}\n`,
        ".git/config": "[core]\n\trepositoryformatversion = 0\n",
    };
    for (const [name, content] of Object.entries(files)) {
        const file = path.join(release, name);
        fs.writeFileSync(file, content);
        fs.utimesSync(file, mtime, mtime);
    }
    fs.symlinkSync("releases/r1", path.join(root, "current"));
}

describe.each(["alpine", "debian"] as const)("nginx site config (%s)", (osFamily) => {
    const dir = tempDir(`nginx-${osFamily}`);
    // The one site's directory under the site root (lib/layout.ts).
    const root = path.join(dir, "sites", "selfpages");
    const nginx = new TestNginx(dir);
    let nginxPort = 0;
    let stubPort = 0;
    let stub: StubReceiver | undefined;
    let workers: number[] = [];
    let content = "";

    const calls = () => stub?.received ?? [];

    beforeAll(async () => {
        createTempDir(dir);
        nginxPort = await freePort();
        stubPort = await freePort();
        fs.chmodSync(dir, 0o755);
        writeSite(root);
        const { settings } = validConfig({ siteRoot: dir, receiverPort: String(stubPort), tls: "off" }, osFamily);
        content = await nginx.configure(nginxSiteFile(settings, nginxPort).content);
        stub = await startStubReceiver(stubPort);
    });

    afterAll(async () => {
        expect(await nginx.stop(), "nginx still running").toBe(true);
        await new Promise<void>((resolve) => (stub ? stub.server.close(() => resolve()) : resolve()));
        stub?.server.closeAllConnections();
        // Nothing left behind: no worker it had either.
        for (const pid of workers) expect(isAlive(pid), `worker ${pid} still running`).toBe(false);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("renders a server block for the test port, the site root and the stub receiver", () => {
        expect(content).toContain(`listen ${nginxPort} default_server;`);
        expect(content).toContain(`root ${root}/current;`);
        expect(content).toContain(`proxy_pass http://127.0.0.1:${stubPort}/hooks/${hookId({ name: oneSiteName })};`);
    });

    it("passes nginx -t inside a minimal nginx.conf", async () => {
        const stderr = await nginx.check();
        expect(stderr).toMatch(/syntax is ok/);
        expect(stderr).toMatch(/test is successful/);
        expect(stderr).not.toMatch(/\[warn\]|\[emerg\]/);
    });

    it("starts and serves on the loopback port", async () => {
        // The master listens before it forks its workers: on a loaded machine they come a moment later.
        const { pid } = await nginx.start(nginxPort);
        await expect.poll(() => childPids(pid).length, { timeout: 5000, interval: 50 }).toBeGreaterThanOrEqual(1);
        workers = childPids(pid);
    });

    it("answers the other server names with 301 to the first, path and query kept", async () => {
        const [canonical, other] = validConfig().settings.sites[0].serverNames;
        for (const p of ["/", "/style.css?v=2", "/no/such/page", "/webhook"]) {
            const res = await request(nginxPort, "GET", p, { headers: { host: other } });
            expect(res.status, p).toBe(301);
            expect(res.headers.location, p).toBe(`http://${canonical}${p}`);
        }
        const before = calls().length;
        expect((await request(nginxPort, "POST", "/webhook", { headers: { host: other, "content-type": "application/json" }, body: "{}" })).status).toBe(301);
        expect(calls().length).toBe(before);
        // The canonical name and a name the config does not know are both the site.
        for (const host of [canonical, "unknown.test"]) expect((await request(nginxPort, "GET", "/", { headers: { host } })).body.toString(), host).toBe(indexHtml);
    });
    it("GET / answers index.html, revalidated on every visit, with an ETag and no version", async () => {
        const res = await request(nginxPort, "GET", "/");
        expect(res.status).toBe(200);
        expect(res.headers["content-type"]).toMatch(/^text\/html/);
        expect(res.headers["cache-control"]).toBe("no-cache");
        expect(res.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
        expect(res.body.toString()).toBe(indexHtml);
        // server_tokens off: "nginx", never "nginx/1.x".
        expect(res.headers.server).toBe("nginx");
        const revalidated = await request(nginxPort, "GET", "/", { headers: { "if-none-match": res.headers.etag } });
        expect(revalidated.status).toBe(304);
    });

    it("serves the same site over IPv6 when the host has it", async () => {
        if (!(await ipv6Available())) return;
        const status = await new Promise<number>((resolve, reject) => {
            http.get({ host: "::1", family: 6, port: nginxPort, path: "/", agent: false }, (res) => {
                res.resume();
                resolve(res.statusCode ?? 0);
            }).on("error", reject);
        });
        expect(status).toBe(200);
    });

    it("serves the precompressed style.css to gzip clients, with the Last-Modified of the original", async () => {
        const plain = await request(nginxPort, "GET", "/style.css");
        const gzipped = await request(nginxPort, "GET", "/style.css", { headers: { "accept-encoding": "gzip" } });

        expect(gzipped.status).toBe(200);
        expect(gzipped.headers["content-encoding"]).toBe("gzip");
        expect(gzipped.headers.vary).toMatch(/Accept-Encoding/i);
        expect(gzipped.headers["content-type"]).toMatch(/^text\/css/);
        expect(gzipped.body.equals(fs.readFileSync(path.join(root, "current", "style.css.gz")))).toBe(true);
        expect(zlib.gunzipSync(gzipped.body).equals(css)).toBe(true);

        // Without Accept-Encoding: the original bytes, no encoding.
        expect(plain.status).toBe(200);
        expect(plain.headers["content-encoding"]).toBeUndefined();
        expect(plain.body.equals(css)).toBe(true);
        expect(plain.headers["cache-control"]).toBe("public, max-age=3600");

        // Both representations carry the same mtime. nginx builds the ETag from mtime and length,
        // so the ETags share the mtime part and differ in the length part, as two representations
        // must (a strong ETag names one representation).
        expect(gzipped.headers["last-modified"]).toBe(mtime.toUTCString());
        expect(plain.headers["last-modified"]).toBe(gzipped.headers["last-modified"]);
        const etagParts = (etag: string | undefined) => /^"([0-9a-f]+)-([0-9a-f]+)"$/.exec(etag ?? "")?.slice(1) ?? [];
        const [plainTime, plainLength] = etagParts(plain.headers.etag);
        const [gzipTime, gzipLength] = etagParts(gzipped.headers.etag);
        expect(plainTime).toBe((mtime.getTime() / 1000).toString(16));
        expect(gzipTime).toBe(plainTime);
        expect(parseInt(plainLength, 16)).toBe(css.length);
        expect(parseInt(gzipLength, 16)).toBe(gzipped.body.length);
    });

    it("serves the .br to clients that accept brotli, the .gz to the others, each with Vary: Accept-Encoding; compresses nothing on the fly", async () => {
        const br = fs.readFileSync(path.join(root, "current", "style.css.br"));
        for (const accept of ["br", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8"]) {
            const res = await request(nginxPort, "GET", "/style.css", { headers: { "accept-encoding": accept } });
            expect(res.status, accept).toBe(200);
            expect(res.headers["content-encoding"], accept).toBe("br");
            expect(res.headers.vary, accept).toMatch(/^Accept-Encoding$/i);
            expect(res.headers["content-type"], accept).toMatch(/^text\/css/);
            expect(res.body.equals(br), accept).toBe(true);
            expect(zlib.brotliDecompressSync(res.body).equals(css), accept).toBe(true);
            expect(res.headers["last-modified"], accept).toBe(mtime.toUTCString());
        }
        const gzipped = await request(nginxPort, "GET", "/style.css", { headers: { "accept-encoding": "gzip, deflate" } });
        expect(gzipped.headers["content-encoding"]).toBe("gzip");
        expect(gzipped.headers.vary).toMatch(/^Accept-Encoding$/i);
        const plain = await request(nginxPort, "GET", "/style.css", { headers: { "accept-encoding": "identity" } });
        expect(plain.headers["content-encoding"]).toBeUndefined();
        expect(plain.headers.vary).toMatch(/^Accept-Encoding$/i);
        expect(plain.body.equals(css)).toBe(true);
        const fingerprinted = await request(nginxPort, "GET", "/assets/app.0123abcd.js", { headers: { "accept-encoding": "gzip, br" } });
        expect(fingerprinted.headers["content-encoding"]).toBe("br");
        expect(zlib.brotliDecompressSync(fingerprinted.body).equals(js)).toBe(true);
        // A file without precompressed copies goes out as it is, whatever the client accepts.
        const page = await request(nginxPort, "GET", "/", { headers: { "accept-encoding": "gzip, deflate, br" } });
        expect(page.headers["content-encoding"]).toBeUndefined();
        expect(page.body.toString()).toBe(indexHtml);
    });

    it("caches fingerprinted assets for a year, immutable", async () => {
        const res = await request(nginxPort, "GET", "/assets/app.0123abcd.js", { headers: { "accept-encoding": "gzip" } });
        expect(res.status).toBe(200);
        expect(res.headers["cache-control"]).toMatch(/max-age=31536000/);
        expect(res.headers["cache-control"]).toMatch(/immutable/);
        expect(res.headers["content-encoding"]).toBe("gzip");
        expect(zlib.gunzipSync(res.body).equals(js)).toBe(true);
        const missing = await request(nginxPort, "GET", "/assets/gone.0123abcd.js");
        expect(missing.status).toBe(404);
    });

    it("answers unknown paths with 404 and the site's 404.html", async () => {
        const res = await request(nginxPort, "GET", "/no/such/page");
        expect(res.status).toBe(404);
        expect(res.body.toString()).toBe(notFoundHtml);
        // The error page itself is not a page of its own.
        expect((await request(nginxPort, "GET", "/404.html")).status).toBe(404);
    });

    it("never serves dotfiles: the release markers and .git", async () => {
        for (const p of ["/.selfpages-complete", "/.selfpages-commit", "/.git/config", "/.git/"]) {
            const res = await request(nginxPort, "GET", p);
            expect(res.status, p).toBe(404);
            expect(res.body.toString(), p).toBe(notFoundHtml);
        }
    });

    it("GET /webhook is 405 with Allow: POST and does not reach the receiver", async () => {
        const before = calls().length;
        for (const method of ["GET", "HEAD", "PUT"]) {
            const res = await request(nginxPort, method, "/webhook");
            expect(res.status, method).toBe(405);
            expect(res.headers.allow, method).toBe("POST");
        }
        expect(calls().length).toBe(before);
    });

    it("POST anywhere else never reaches the receiver (the seed's `if` in location /)", async () => {
        const before = calls().length;
        for (const p of ["/", "/index.html", "/hooks/selfpages", "/webhook/", "/webhook2", "/no/such/page"]) {
            const res = await request(nginxPort, "POST", p, { headers: { "content-type": "application/json", "x-github-event": "push" }, body: '{"ref":"refs/heads/gh-pages"}' });
            expect([404, 405, 413], `${p} answered ${res.status}`).toContain(res.status);
        }
        expect(calls().length).toBe(before);
    });

    it("proxies POST /webhook with a 1 MB body to /hooks/selfpages, body and GitHub headers intact", async () => {
        const before = calls().length;
        const body = Buffer.alloc(1024 * 1024, "x");
        body.write('{"ref":"refs/heads/gh-pages","padding":"');
        body.write('"}', body.length - 2);
        const headers = {
            "content-type": "application/json",
            "user-agent": "GitHub-Hookshot/abc1234",
            "x-github-event": "push",
            "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "x-github-hook-id": "42",
            "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
        };
        const res = await request(nginxPort, "POST", "/webhook", { headers, body });
        expect(res.status).toBe(202);
        expect(res.body.toString()).toBe("accepted\n");
        expect(calls().length).toBe(before + 1);
        const got = calls()[before];
        expect(got.method).toBe("POST");
        expect(got.url).toBe(`/hooks/${hookId({ name: oneSiteName })}`);
        expect(got.bodyLength).toBe(body.length);
        expect(got.bodySha256).toBe(sha256(body));
        for (const [name, value] of Object.entries(headers)) expect(got.headers[name], name).toBe(value);
        expect(got.headers["x-forwarded-for"]).toBe("127.0.0.1");
    });

    it("refuses a 26 MB delivery with 413 (GitHub caps payloads at 25 MB) without calling the receiver", async () => {
        const before = calls().length;
        const res = await request(nginxPort, "POST", "/webhook", { headers: { "content-type": "application/json", "x-github-event": "push" }, body: Buffer.alloc(26 * 1024 * 1024, "y") });
        expect(res.status).toBe(413);
        expect(calls().length).toBe(before);
    });

    it("keeps the small body limit everywhere else: 20 KB to another path is 413", async () => {
        const before = calls().length;
        const res = await request(nginxPort, "POST", "/anything-else", { headers: { "content-type": "application/json" }, body: Buffer.alloc(20 * 1024, "z") });
        expect(res.status).toBe(413);
        expect(calls().length).toBe(before);
    });

    it("stops cleanly, leaving no nginx process behind", async () => {
        expect(await nginx.stop("SIGQUIT")).toBe(true);
        for (const pid of workers) expect(isAlive(pid), `worker ${pid}`).toBe(false);
        // The loopback port is free again.
        await new Promise<void>((resolve, reject) => {
            const server = net.createServer().once("error", reject);
            server.listen({ host: "127.0.0.1", port: nginxPort }, () => server.close(() => resolve()));
        });
        expect(nginx.errorLog()).not.toMatch(/\[(emerg|alert|crit)\]/);
    });
});
