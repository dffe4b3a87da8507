/**
 * HTTPS for real: pebble (Let's Encrypt's test CA) and pebble-challtestsrv (its DNS, answering every
 * name with the sandbox host's address) on the host's gateway; uacme on the host gets the
 * certificate through nginx on port 80. Steps run in order and share the stack.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SandboxAcme } from "../../sandbox/acme/pebble";
import { buildSandbox, tlsServerNames, type Sandbox } from "../../sandbox/build";
import type { DeliveryTls } from "../../sandbox/github/deliveries";
import type { GitHubStandin } from "../../sandbox/github/server";
import type { SandboxHost } from "../../sandbox/hostInstance";
import type { SitePublisher } from "../../sandbox/origin";
import { repoRoot } from "../../toolchain/env";
import { hostRun, httpsGet, recordFigure, runCommand, waitFor } from "./support";

const isRoot = process.getuid?.() === 0;
const repository = "selfpages/site";
const stackName = "https";
const names = tlsServerNames;
const figuresFile = path.join(repoRoot, "bench", "e2e-figures.json");
// The one site's certificate parameters (acme.conf), and the renew program told them (as the daily job tells it each site's).
const acmeConf = "/etc/selfpages/sites/selfpages/acme.conf";
const renewScript = `SELFPAGES_ACME_CONF=${acmeConf} /usr/local/lib/selfpages/acme-renew`;

function httpGet(address: string, host: string, urlPath: string): Promise<{ status: number; location?: string }> {
    return new Promise((resolve, reject) => {
        http.get({ host: address, path: urlPath, headers: { host }, agent: false }, (res) => {
            res.resume();
            res.on("end", () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
        }).on("error", reject);
    });
}

describe.skipIf(!isRoot)("HTTPS with an ACME certificate (pebble)", () => {
    let host: SandboxHost;
    let acme: SandboxAcme;
    let standin: GitHubStandin;
    let stack: Stack;
    let publisher: SitePublisher;
    let env: Sandbox;
    let root = "";
    let deliveryTls: DeliveryTls;
    const engineOutput: string[] = [];
    const onOutput = (line: string) => engineOutput.push(line);
    const serial = async () => (await httpsGet(host.address, root, names[0])).certificate.serialNumber;
    // After a graceful reload, old workers may still take a connection and show the previous
    // certificate: a test reads "the served certificate" only once they have left. (The bracket keeps
    // grep from counting the shell that runs it.)
    const oldWorkersGone = () =>
        waitFor("the old nginx workers to exit", async () => (await hostRun(host.name, "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -c 'worker process is shuttin[g] down'")).output.trim() === "0", 30_000, 100);

    beforeAll(async () => {
        env = await buildSandbox({ name: stackName, tls: true });
        ({ host, acme, standin, stack, publisher, deliveryTls } = env);
        root = await acme.rootCa();
    });

    afterAll(async () => {
        await env?.close();
    });

    it("1. the first up issues a certificate; https answers over HTTP/2 for every name (200 on the first, 301 to it on the others) and the chain verifies", async () => {
        const started: Record<string, number> = {};
        let issuanceMs = 0;
        const onEvent = (event: EngineEvent) => {
            const urn = event.resourcePreEvent?.metadata.urn ?? event.resOutputsEvent?.metadata.urn ?? "";
            if (!urn.endsWith("selfpages-certificate-issue")) return;
            if (event.resourcePreEvent) started.issue = Date.now();
            if (event.resOutputsEvent) issuanceMs = Date.now() - (started.issue ?? Date.now());
        };
        const t0 = Date.now();
        const result = await stack.up({ onOutput, onEvent });
        expect(result.summary.result).toBe("succeeded");
        expect(issuanceMs, "the issuance step was seen and timed").toBeGreaterThan(0);
        recordFigure(figuresFile, "httpsUpFromBareSeconds", (Date.now() - t0) / 1000);
        recordFigure(figuresFile, "certificateIssuanceOnFirstUpMs", issuanceMs);
        console.log(`first up ${(Date.now() - t0) / 1000} s, of which issuance ${issuanceMs} ms`);
        expect(result.outputs.siteUrl.value).toBe(`https://${names[0]}/`);

        for (const [i, name] of names.entries()) {
            const home = await httpsGet(host.address, root, name);
            expect(home.status, name).toBe(i === 0 ? 200 : 301);
            if (i === 0) expect(home.headers["cache-control"]).toBe("no-cache");
            else expect(home.headers.location).toBe(`https://${names[0]}/`);
            expect(home.alpn).toBe("h2");
            expect(home.headers.server).toBe("nginx");
            expect(home.headers["strict-transport-security"]).toBeUndefined();
            expect(home.certificate.subjectaltname).toBe(names.map((n) => `DNS:${n}`).join(", "));
            expect(home.certificate.issuer.CN).toMatch(/^Pebble Intermediate/);
        }
        const css = await httpsGet(host.address, root, names[0], "/style.css", { "accept-encoding": "gzip" });
        expect(css.status).toBe(200);
        expect(css.headers["content-encoding"]).toBe("gzip");
        // The account key was made on the host and is there only.
        expect((await hostRun(host.name, "stat -c '%a %U' /etc/ssl/uacme/private/key.pem")).output.trim()).toMatch(/^[46]00 root$/);
        expect(fs.readFileSync(path.join(host.rootfs, "var/log/selfpages/acme.log"), "utf8")).toMatch(/account registered[\s\S]*installed the certificate/);
    });

    it("2. http answers 301 to https on the first name, except the challenge path", async () => {
        for (const p of ["/", "/style.css", "/webhook"]) {
            const res = await httpGet(host.address, names[1], p);
            expect(res.status, p).toBe(301);
            expect(res.location).toBe(`https://${names[0]}${p}`);
        }
        expect((await httpGet(host.address, names[0], "/.well-known/acme-challenge/no-such-token")).status).toBe(404);
    });

    it("3. the GitHub hook is https with insecure_ssl 0; a push delivered over TLS deploys", async () => {
        const [hook] = standin.hooks(repository);
        expect(hook.config.url).toBe(`https://${names[0]}/webhook`);
        expect(hook.config.insecure_ssl).toBe("0");
        const ping = await waitFor("the ping delivery", async () => standin.deliveries(repository).find((d) => d.event === "ping"), 10_000);
        const pingOutcome = `${ping.status_code} ${ping.status} (delivered ${ping.delivered_at}, ${ping.duration} s)`;
        expect(ping.status_code, pingOutcome).toBeGreaterThanOrEqual(200);
        expect(ping.status_code, pingOutcome).toBeLessThan(300);
        expect(ping.url).toMatch(/^https:/);
        const token = crypto.randomBytes(8).toString("hex");
        const sha = publisher.publish({ "version.txt": token }, "over https");
        const [delivery] = await standin.sendPush(repository, { ref: "refs/heads/gh-pages", after: sha });
        expect(delivery.url).toMatch(/^https:/);
        expect(delivery.status_code).toBe(202);
        await waitFor("the pushed commit served over https", async () => (await httpsGet(host.address, root, names[0], "/version.txt")).body === token, 30_000, 100);
    });

    it("4. a second up changes nothing", async () => {
        const up = await stack.up({ onOutput });
        expect(Object.entries(up.summary.resourceChanges ?? {}).filter(([op]) => op !== "same")).toEqual([]);
    });

    it("5. a forced renewal serves a new certificate, no request failing during the reload", async () => {
        const before = await serial();
        const failures: string[] = [];
        let probes = 0;
        let probing = true;
        const probe = (async () => {
            while (probing) {
                try {
                    const res = await httpsGet(host.address, root, names[0]);
                    if (res.status !== 200) failures.push(`status ${res.status}`);
                } catch (error) {
                    failures.push((error as Error).message);
                }
                probes++;
            }
        })();
        const t0 = Date.now();
        const renewal = await hostRun(host.name, `${renewScript} force`);
        const renewalMs = Date.now() - t0;
        // Until the new certificate is served: the old workers finish what they have first.
        await waitFor("the renewed certificate", async () => (await serial()) !== before, 10_000, 50);
        await oldWorkersGone();
        probing = false;
        await probe;
        expect(renewal.code, renewal.output).toBe(0);
        expect(renewal.output).toMatch(/installed the certificate/);
        recordFigure(figuresFile, "forcedRenewalMs", renewalMs);
        console.log(`forced renewal ${renewalMs} ms, ${probes} https probes, ${failures.length} failed`);
        expect(probes).toBeGreaterThan(10);
        expect(failures).toEqual([]);
        // Not due: the daily job does nothing.
        const daily = await hostRun(host.name, "/etc/cron.daily/selfpages-acme; echo status=$?");
        expect(daily.output.trim()).toBe("status=0");
    });

    it("6. a certificate switched by the stack's reload is served to the very next connection (the first up's switch from the placeholder, before GitHub's ping)", async () => {
        await oldWorkersGone();
        // The served pair replaced as acme-renew replaces it, by a self-signed one and back, each
        // applied with the reload acme.conf gives, run as acme-renew runs it; one HTTPS connection
        // right after each switch back.
        const tls = "/etc/selfpages/tls/selfpages";
        const switchTo = (pair: "selfsigned" | "issued") =>
            hostRun(
                host.name,
                [
                    "set -eu",
                    `d=${tls}; w=/root/switch-test; mkdir -p "$w"`,
                    '[ -f "$w/issued.pem" ] || { cp "$d/fullchain.pem" "$w/issued.pem"; cp "$d/privkey.pem" "$w/issued.key"; }',
                    `[ -f "$w/selfsigned.pem" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=${names[0]} -addext subjectAltName=DNS:${names[0]} -keyout "$w/selfsigned.key" -out "$w/selfsigned.pem" 2>/dev/null`,
                    `cp "$w/${pair}.key" "$d/privkey.pem.new" && mv -f "$d/privkey.pem.new" "$d/privkey.pem"`,
                    `cp "$w/${pair}.pem" "$d/fullchain.pem.new" && mv -f "$d/fullchain.pem.new" "$d/fullchain.pem"`,
                    `. ${acmeConf}`,
                    // Globbing off, as acme-renew and cert-pull run the reload.
                    "set -f",
                    'nginx -t -q && eval "$RELOAD_NGINX"',
                ].join("\n"),
            );
        const issuer = await serial();
        const served: string[] = [];
        for (let round = 0; round < 8; round++) {
            expect((await switchTo("selfsigned")).code).toBe(0);
            expect((await switchTo("issued")).code).toBe(0);
            try {
                served.push((await httpsGet(host.address, root, names[0])).certificate.serialNumber === issuer ? "issued" : "another");
            } catch (error) {
                served.push((error as Error).message);
            }
        }
        await hostRun(host.name, "rm -rf /root/switch-test");
        expect(served).toEqual(Array(8).fill("issued"));
    });

    it("7. the ACME server down during a renewal: the old certificate stays served, the CA's reason is logged; the next renewal succeeds", async () => {
        await oldWorkersGone();
        const before = await serial();
        await acme.stopPebble();
        // A renewal that is due (forced: pebble's certificates last years); the daily job's mode
        // contacts the CA only when 30 days or less are left.
        const failed = await hostRun(host.name, `export SELFPAGES_ACME_RETRY_DELAY=1; ${renewScript} force; echo status=$?`);
        expect(failed.output.trim()).toMatch(/status=1$/);
        expect(await serial()).toBe(before);
        const log = fs.readFileSync(path.join(host.rootfs, "var/log/selfpages/acme.log"), "utf8");
        expect(log).toMatch(/issue failed \(attempt 2[^\n]*\n[^\n]*still serving the previous certificate/);
        console.log(log.split("\n").filter((l) => /failed|still serving/.test(l)).slice(-3).join("\n"));

        await acme.startPebble();
        root = await acme.rootCa();
        const renewed = await hostRun(host.name, `${renewScript} force`);
        console.log(renewed.output);
        expect(renewed.code, renewed.output).toBe(0);
        expect(renewed.output).toMatch(/installed the certificate/);
        // pebble forgets everything when it restarts, its root included: the new chain ends in the new root.
        deliveryTls.ca = root;
        // The reload is graceful: the old workers may take the next connection or two.
        await waitFor("the renewed certificate", async () => (await serial().catch(() => before)) !== before, 10_000, 100);
        await oldWorkersGone();
    });

    it("8. a server name that does not resolve to the host is refused by the preflight, changing nothing", async () => {
        const before = await serial();
        // challtestsrv answers this one name with another address.
        await fetch(`http://${host.gatewayAddress}:8055/add-a`, { method: "POST", body: JSON.stringify({ host: "elsewhere.selfpages.test.", addresses: ["192.0.2.7"] }) });
        await stack.setConfig("selfpages:siteServerNames[2]", { value: "elsewhere.selfpages.test" }, true);
        try {
            await expect(stack.up({ onOutput })).rejects.toThrow(/Preflight failed, nothing was changed:[\s\S]*server name elsewhere\.selfpages\.test resolves to 192\.0\.2\.7, not only to the host \(10\.233\.\d+\.2/);
        } finally {
            await stack.removeConfig("selfpages:siteServerNames[2]", true);
        }
        expect(await serial()).toBe(before);
        const up = await stack.preview({ onOutput });
        expect(Object.entries(up.changeSummary).filter(([op]) => op !== "same")).toEqual([]);
    });

    it("9. destroy removes the served certificate and says it leaves the ACME account key and certificates", async () => {
        const output: string[] = [];
        const result = await stack.destroy({ onOutput: (l) => output.push(l) });
        expect(result.summary.result).toBe("succeeded");
        const text = output.join("");
        console.log(text.split("\n").filter((l) => /left|leaves/i.test(l)).join("\n"));
        expect(fs.existsSync(path.join(host.rootfs, "etc/selfpages/tls"))).toBe(false);
        expect(fs.existsSync(path.join(host.rootfs, "var/lib/selfpages-acme"))).toBe(false);
        expect(fs.existsSync(path.join(host.rootfs, "usr/local/share/ca-certificates/selfpages-acme.crt"))).toBe(false);
        expect(fs.existsSync(path.join(host.rootfs, "etc/cron.daily/selfpages-acme"))).toBe(false);
        expect(fs.existsSync(path.join(host.rootfs, "etc/ssl/uacme/private/key.pem"))).toBe(true);
        expect(text).toMatch(/left \/etc\/ssl\/uacme/);
    });
});

describe.skipIf(!isRoot)("`npm run sandbox -- --tls`, as printed", () => {
    const name = "e2e-tlshint";
    let stateDir: string;
    let env: Record<string, string>;
    const run = (command: string, args: string[], cwd = repoRoot) => runCommand(command, args, { cwd, env });

    beforeAll(() => {
        stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-tlshints-"));
        env = { ...(process.env as Record<string, string>), SELFPAGES_SANDBOX_NAME: name, SELFPAGES_SANDBOX_STATE: stateDir };
    });

    afterAll(async () => {
        const pidFile = path.join(stateDir, "acme", "pids");
        const pids = fs.existsSync(pidFile) ? fs.readFileSync(pidFile, "utf8").split("\n").filter((l) => l !== "").map(Number) : [];
        const down = await run("npm", ["run", "sandbox", "--", "--down"]);
        expect(down.status, down.stderr).toBe(0);
        // pebble and its DNS went with the rest.
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(pids).toHaveLength(2);
        for (const pid of pids) expect(fs.existsSync(`/proc/${pid}`) && !fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z "), `pebble process ${pid}`).toBe(false);
    }, 600_000);

    it("prints the https URL and a curl that trusts pebble's root; the publish steps deploy over https", async () => {
        const up = await run("npm", ["run", "sandbox", "--", "--tls"]);
        expect(up.status, up.stderr).toBe(0);
        expect(up.stdout).toMatch(/^ {2}site: +https:\/\/site\.selfpages\.test\/$/m);
        expect(up.stdout).toMatch(/^ {2}webhook: +https:\/\/site\.selfpages\.test\/webhook$/m);
        const curl = /^ {2}trust it with curl: (.*)$/m.exec(up.stdout)?.[1] ?? "";
        expect(curl).toMatch(/^curl --cacert \S+root\.pem --resolve site\.selfpages\.test:443:10\.233\.\d+\.2 /);
        const head = await run("sh", ["-c", curl]);
        expect(head.stdout).toMatch(/^HTTP\/2 200/);
        const start = up.stdout.indexOf("\nPublish a change");
        const hints = up.stdout.slice(up.stdout.indexOf("\n", start + 1) + 1, up.stdout.indexOf("\nRun pulumi", start));
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-tlshints-home-"));
        try {
            const shell = await run("bash", ["-euo", "pipefail", "-c", hints], home);
            expect(shell.status, `${shell.stdout}\n${shell.stderr}`).toBe(0);
            expect(shell.stdout).toMatch(/^delivery [0-9a-f-]{36} to https:\/\/site\.selfpages\.test\/webhook: 202 OK$/m);
            expect(shell.stdout).toContain("<p>hello</p>");
        } finally {
            fs.rmSync(home, { recursive: true, force: true });
        }
    });
});
