import * as fs from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as path from "node:path";
import * as tls from "node:tls";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oneSiteName } from "../../lib/config";
import { hookId, nginxSiteFile } from "../../lib/hostFiles";
import { validConfig } from "../lib/fixtures";
import { createTempDir, freePort, issueTestCertificate, makeTestCa, request, tempDir, TestNginx } from "./support";

/**
 * The rendered config with TLS on, run by the real nginx on free loopback ports: port 80's server
 * (ACME challenge from the webroot, 301 for the rest) and the HTTP/2 server with a certificate from
 * a test CA made here, as uacme would leave it.
 */

const names = ["site.test", "www.site.test"];
const css = Buffer.from(`/* styles */\n${".rule { color: #123456; margin: 1px; }\n".repeat(60)}`);
const indexHtml = "<!doctype html>\n<title>tls</title>\n<p>Hello over TLS</p>\n";

interface H2Reply {
    status: number;
    headers: http2.IncomingHttpHeaders;
    body: Buffer;
}

function h2request(session: http2.ClientHttp2Session, method: string, urlPath: string, headers: http2.OutgoingHttpHeaders = {}, body?: Buffer | string): Promise<H2Reply> {
    return new Promise((resolve, reject) => {
        const req = session.request({ ":method": method, ":path": urlPath, ...headers });
        const chunks: Buffer[] = [];
        let responseHeaders: http2.IncomingHttpHeaders = {};
        req.on("response", (h) => (responseHeaders = h));
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => resolve({ status: Number(responseHeaders[":status"]), headers: responseHeaders, body: Buffer.concat(chunks) }));
        req.on("error", reject);
        req.end(body);
    });
}

describe("nginx site config with TLS", () => {
    const dir = tempDir("nginx-tls");
    // The one site's directory under the site root (lib/layout.ts).
    const root = path.join(dir, "sites", "selfpages");
    const nginx = new TestNginx(dir);
    let httpsPort = 0;
    let httpPort = 0;
    let stubPort = 0;
    let stub: http.Server | undefined;
    let received = 0;
    let content = "";
    let ca: Buffer = Buffer.alloc(0);
    let session: http2.ClientHttp2Session | undefined;

    beforeAll(async () => {
        createTempDir(dir);
        fs.chmodSync(dir, 0o755);
        [httpsPort, httpPort, stubPort] = [await freePort(), await freePort(), await freePort()];
        fs.mkdirSync(path.join(root, "releases", "r1"), { recursive: true });
        fs.writeFileSync(path.join(root, "releases", "r1", "index.html"), indexHtml);
        fs.writeFileSync(path.join(root, "releases", "r1", "style.css"), css);
        fs.writeFileSync(path.join(root, "releases", "r1", "style.css.gz"), zlib.gzipSync(css));
        fs.writeFileSync(path.join(root, "releases", "r1", "404.html"), "not found\n");
        fs.symlinkSync("releases/r1", path.join(root, "current"));
        ca = await makeTestCa(dir);
        await issueTestCertificate(dir, names);
        const { settings } = validConfig({ siteRoot: dir, receiverPort: String(stubPort), siteServerNames: JSON.stringify(names), tlsHstsMaxAge: "600" }, "debian");
        // The host's paths, moved under the temp dir.
        const layout = { ...settings.layout, acmeWebroot: path.join(dir, "acme") };
        const [site] = settings.sites;
        const sites = [{ ...site, layout: { ...site.layout, tlsCertificate: path.join(dir, "fullchain.pem"), tlsKey: path.join(dir, "privkey.pem") } }];
        fs.mkdirSync(path.join(layout.acmeWebroot, ".well-known", "acme-challenge"), { recursive: true });
        fs.writeFileSync(path.join(layout.acmeWebroot, ".well-known", "acme-challenge", "tok3n_-x"), "tok3n_-x.thumbprint");
        content = await nginx.configure(nginxSiteFile({ ...settings, layout, sites }, httpsPort, httpPort).content);
        stub = http.createServer((req, res) => {
            received++;
            req.resume();
            req.on("end", () => res.writeHead(202).end("accepted\n"));
        });
        await new Promise<void>((resolve) => stub?.listen({ host: "127.0.0.1", port: stubPort }, resolve));
    });

    afterAll(async () => {
        session?.close();
        expect(await nginx.stop(), "nginx still running").toBe(true);
        await new Promise<void>((resolve) => (stub ? stub.close(() => resolve()) : resolve()));
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("renders both servers: challenge and redirect on the plain port, HTTP/2 and the certificate on the TLS port", () => {
        expect(content).toContain(`listen ${httpPort} default_server;`);
        expect(content).toContain(`listen ${httpsPort} ssl http2 default_server;`);
        expect(content).toContain("ssl_protocols TLSv1.2 TLSv1.3;");
        expect(content).toContain("ssl_session_cache shared:selfpages_tls:10m;");
        expect(content).toContain(`proxy_pass http://127.0.0.1:${stubPort}/hooks/${hookId({ name: oneSiteName })};`);
        expect(nginxSiteFile(validConfig({}, "debian").settings).content).toMatch(/listen 443 ssl http2 default_server;[\s\S]*ssl_certificate \/etc\/selfpages\/tls\/selfpages\/fullchain.pem;/);
        // Alpine's nginx is 1.26, where the listen parameter is deprecated: the directive instead.
        const alpine = nginxSiteFile(validConfig().settings).content;
        expect(alpine).toMatch(/listen 443 ssl default_server;\n    listen \[::\]:443 ssl default_server;\n    http2 on;\n[\s\S]*ssl_certificate \/etc\/selfpages\/tls\/selfpages\/fullchain.pem;/);
        expect(alpine).not.toMatch(/listen [^;]*http2/);
        expect(nginxSiteFile(validConfig().settings).content).not.toContain("Strict-Transport-Security");
    });

    it("passes nginx -t", async () => {
        const stderr = await nginx.check();
        expect(stderr).toMatch(/test is successful/);
        expect(stderr).not.toMatch(/\[warn\]|\[emerg\]/);
    });

    it("starts", async () => {
        await nginx.start(httpsPort, httpPort);
    });

    it("plain HTTP: the ACME challenge is served from the webroot, everything else is a 301 to https on the canonical name", async () => {
        const challenge = await request(httpPort, "GET", "/.well-known/acme-challenge/tok3n_-x", { headers: { host: "site.test" } });
        expect(challenge.status).toBe(200);
        expect(challenge.body.toString()).toBe("tok3n_-x.thumbprint");
        expect(challenge.headers["content-type"]).toBe("text/plain");
        expect((await request(httpPort, "GET", "/.well-known/acme-challenge/missing", { headers: { host: "site.test" } })).status).toBe(404);
        for (const name of [...names, "unknown.test"]) {
            for (const p of ["/", "/style.css?v=2", "/.well-known/other"]) {
                const res = await request(httpPort, "GET", p, { headers: { host: name } });
                expect(res.status, `${name}${p}`).toBe(301);
                expect(res.headers.location, `${name}${p}`).toBe(`https://${names[0]}${p}`);
            }
        }
        const wwwChallenge = await request(httpPort, "GET", "/.well-known/acme-challenge/tok3n_-x", { headers: { host: names[1] } });
        expect(wwwChallenge.status).toBe(200);
        const post = await request(httpPort, "POST", "/webhook", { headers: { host: "site.test", "content-type": "application/json" }, body: "{}" });
        expect(post.status).toBe(301);
        expect(received).toBe(0);
    });

    it("HTTPS over HTTP/2: the chain verifies for every name; the canonical name serves, the other answers 301 to it; HSTS when set", async () => {
        const canonical = http2.connect(`https://127.0.0.1:${httpsPort}`, { ca, servername: names[0] });
        const home = await h2request(canonical, "GET", "/", { ":authority": names[0] });
        canonical.close();
        expect(home.status).toBe(200);
        expect(home.body.toString()).toBe(indexHtml);
        expect(home.headers["cache-control"]).toBe("no-cache");
        expect(home.headers["strict-transport-security"]).toBe("max-age=600");
        const other = http2.connect(`https://127.0.0.1:${httpsPort}`, { ca, servername: names[1] });
        const redirect = await h2request(other, "GET", "/style.css?v=2", { ":authority": names[1] });
        other.close();
        expect(redirect.status).toBe(301);
        expect(redirect.headers.location).toBe(`https://${names[0]}/style.css?v=2`);
        expect(redirect.headers["strict-transport-security"]).toBe("max-age=600");
        session = http2.connect(`https://127.0.0.1:${httpsPort}`, { ca, servername: names[0] });
        const gz = await h2request(session, "GET", "/style.css", { "accept-encoding": "gzip" });
        expect(gz.status).toBe(200);
        expect(gz.headers["content-encoding"]).toBe("gzip");
        expect(zlib.gunzipSync(gz.body).equals(css)).toBe(true);
        expect(gz.headers["cache-control"]).toBe("public, max-age=3600");
        expect(gz.headers["strict-transport-security"]).toBe("max-age=600");
        const missing = await h2request(session, "GET", "/nope");
        expect(missing.status).toBe(404);
    });

    it("proxies POST /webhook over HTTPS to the receiver; GET is 405", async () => {
        const s = session ?? http2.connect(`https://127.0.0.1:${httpsPort}`, { ca, servername: names[0] });
        const res = await h2request(s, "POST", "/webhook", { "content-type": "application/json", "x-github-event": "push" }, '{"ref":"refs/heads/gh-pages"}');
        expect(res.status).toBe(202);
        expect(received).toBe(1);
        expect((await h2request(s, "GET", "/webhook")).status).toBe(405);
    });

    const handshake = (options: tls.ConnectionOptions) =>
        new Promise<tls.TLSSocket>((resolve, reject) => {
            const socket = tls.connect({ host: "127.0.0.1", port: httpsPort, ca, servername: names[0], ...options }, () => resolve(socket));
            socket.once("error", reject);
        });

    it("speaks TLS 1.2 and 1.3 and refuses 1.1", async () => {
        for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
            const socket = await handshake({ minVersion: version, maxVersion: version });
            expect(socket.getProtocol()).toBe(version);
            socket.destroy();
        }
        await expect(handshake({ minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT:@SECLEVEL=0" })).rejects.toThrow();
    });

    it("resumes sessions from the cache (TLS 1.2 session id and TLS 1.3)", async () => {
        for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
            const first = await handshake({ maxVersion: version });
            const sessionData = await new Promise<Buffer>((resolve) => {
                const existing = first.getSession();
                if (existing && version === "TLSv1.2") return resolve(existing);
                first.once("session", resolve);
                first.write("GET / HTTP/1.1\r\nHost: site.test\r\nConnection: keep-alive\r\n\r\n");
            });
            first.destroy();
            const second = await handshake({ maxVersion: version, session: sessionData });
            expect(second.isSessionReused(), version).toBe(true);
            second.destroy();
        }
    });

    it("stops cleanly", async () => {
        session?.close();
        session = undefined;
        expect(await nginx.stop("SIGQUIT")).toBe(true);
        expect(nginx.errorLog()).not.toMatch(/\[(emerg|alert|crit)\]/);
    });
});
