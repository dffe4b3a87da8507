/**
 * A fleet from one stack: three servers (then a fourth added, the second removed), two sites with
 * HTTPS from pebble, each server serving every site. Every push reaches every server (a GitHub hook
 * per site and server); a server down during a push catches up through its fallback sync; a server
 * down during `up` fails its own steps only, named, and the others converge. Certificates: the
 * first server (the lead) alone orders, one order per site for the fleet, validated through a peer
 * (the sandbox's DNS answers the names with a peer first, and pebble validates at the first
 * address), which hands the challenge on to the lead; the peers pull over SSH during `up`, a
 * server added later gets the current certificate on its first `up`, and a renewal forced on the
 * lead reaches the peers by their pull job, without an `up`. Steps run in order and share the
 * stack and its four hosts.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { answerNamesWith } from "../../sandbox/acme/pebble";
import { buildSandbox, tlsServerNames, type Sandbox } from "../../sandbox/build";
import type { SandboxHost } from "../../sandbox/hostInstance";
import { repoRoot } from "../../toolchain/env";
import { exportStack, hostRun, httpsGet, probeUntilStopped, recordFigure, waitFor } from "./support";

const isRoot = process.getuid?.() === 0;
const stackName = "fleet";
const blogName = "blog.selfpages.test";
const repositories = { main: "selfpages/site", blog: "selfpages/blog" } as const;
type SiteName = keyof typeof repositories;
const siteNames: SiteName[] = ["main", "blog"];
const nameOf = (site: SiteName) => (site === "main" ? tlsServerNames[0] : blogName);
const figuresFile = path.join(repoRoot, "bench", "e2e-figures.json");

describe.skipIf(!isRoot)("a fleet: three servers, two sites, HTTPS", () => {
    let env: Sandbox;
    let stack: Stack;
    let hosts: SandboxHost[];
    let root = "";
    /** The servers the stack lists now (sandbox hosts), in order. */
    let serving: SandboxHost[] = [];
    /** The servers the probe asks: those that serve throughout a change of the list. */
    let probed: SandboxHost[] = [];
    /** Each server's entry as the sandbox wrote it (its key encrypted), by host name. */
    let entries = new Map<string, unknown>();
    const engineOutput: string[] = [];
    const onOutput = (line: string) => engineOutput.push(line);
    const stackFile = () => path.join(repoRoot, `Pulumi.${stackName}.yaml`);

    /**
     * Lists `chosen` as the stack's servers, as a user edits the stack's file, and points the sites'
     * names at them only (the preflight checks it), a peer first.
     */
    const listServers = async (chosen: SandboxHost[]) => {
        const doc = parseDocument(fs.readFileSync(stackFile(), "utf8"));
        doc.setIn(["config", "selfpages:servers"], chosen.map((h) => entries.get(h.name)));
        fs.writeFileSync(stackFile(), doc.toString());
        serving = chosen;
        await answerNamesWith(env.host.gatewayAddress, [...tlsServerNames, blogName], [...chosen.slice(1), chosen[0]].map((h) => h.address));
    };
    const serialsOf = (site: SiteName) => Promise.all(serving.map(async (host) => (await fetchFrom(host, site)).certificate.serialNumber));
    const fetchFrom = (host: SandboxHost, site: SiteName, file = "/") => httpsGet(host.address, root, nameOf(site), file);
    const served = async (host: SandboxHost, site: SiteName, file: string) => {
        const res = await fetchFrom(host, site, file).catch(() => undefined);
        return res?.status === 200 ? res.body : undefined;
    };
    const publish = (site: SiteName) => {
        const token = crypto.randomBytes(8).toString("hex");
        const sha = env.publisherOf(repositories[site]).publish({ "version.txt": token }, `publish ${token}`);
        return { token, sha };
    };
    const crontabOf = async (host: SandboxHost) => (await hostRun(host.name, "crontab -u selfpages -l")).output;
    const stopServer = (host: SandboxHost) => hostRun(host.name, "rc-service nginx stop >/dev/null 2>&1; rc-service ssh stop >/dev/null 2>&1");
    const startServer = (host: SandboxHost) => hostRun(host.name, "rc-service ssh start >/dev/null 2>&1; rc-service nginx start >/dev/null 2>&1");

    /** Requests both sites from every probed server until stopped; returns the count and what failed. */
    const probe = () => probeUntilStopped(() => probed.flatMap((host) => siteNames.map((site) => ({ label: `${host.name} ${site}`, request: () => fetchFrom(host, site) }))));

    beforeAll(async () => {
        env = await buildSandbox({
            name: stackName,
            hosts: 4,
            fleet: true,
            tls: true,
            sites: [
                { name: "main", repository: repositories.main },
                { name: "blog", repository: repositories.blog, serverNames: [blogName] },
            ],
            // Deliveries, not the fallback, deploy pushes until step 3 turns it to every minute.
            config: { syncSchedule: "0 0 1 1 *" },
        });
        ({ stack, hosts } = env);
        root = await env.acme.rootCa();
        const doc = parseDocument(fs.readFileSync(stackFile(), "utf8"));
        const written = (doc.getIn(["config", "selfpages:servers"]) as { toJSON(): Array<{ name: string }> }).toJSON();
        entries = new Map(written.map((entry) => [entry.name, entry]));
        expect([...entries.keys()]).toEqual(hosts.map((h) => h.name));
        // Three servers first; the fourth joins in step 7.
        await listServers(hosts.slice(0, 3));
    });

    afterAll(async () => {
        await env?.close();
    });

    it("1. up from bare serves both sites from all three servers, with one certificate per site for the fleet, ordered by the lead and validated through a peer", async () => {
        const ordersBefore = env.acme.issuedCertificates();
        const started = Date.now();
        const result = await stack.up({ onOutput });
        recordFigure(figuresFile, "fleetUpFromBareSeconds", (Date.now() - started) / 1000);
        expect(result.summary.result).toBe("succeeded");
        for (const site of siteNames) {
            const serials = new Set<string>();
            for (const host of serving) {
                const res = await fetchFrom(host, site);
                expect(res.status, `${host.name} ${site}`).toBe(200);
                expect(res.certificate.issuer.CN, `${host.name} ${site}`).toMatch(/^Pebble Intermediate/);
                serials.add(res.certificate.serialNumber);
            }
            // The same certificate on every server: one order for the fleet.
            expect(serials.size, site).toBe(1);
        }
        // One order per certificate for the whole fleet, all from the lead.
        expect(env.acme.issuedCertificates() - ordersBefore).toBe(2);
        const [lead, ...peers] = serving;
        expect(fs.readFileSync(path.join(lead.rootfs, "var/log/selfpages/acme.log"), "utf8").match(/installed the certificate for/g)).toHaveLength(2);
        // The CA reached a peer (the names' first address), which asked the lead.
        expect(fs.readFileSync(path.join(peers[0].rootfs, "var/log/nginx/access.log"), "utf8")).toMatch(/"GET \/\.well-known\/acme-challenge\/\S+ HTTP\/1\.1" 200/);
        expect(fs.readFileSync(path.join(lead.rootfs, "var/log/nginx/access.log"), "utf8")).toMatch(/"GET \/\.well-known\/acme-challenge\/\S+ HTTP\/1\.1" 200/);
        // The peers ordered nothing: no ACME account, no renew program; their own pull key, root's alone.
        for (const peer of peers) {
            expect(fs.existsSync(path.join(peer.rootfs, "var/log/selfpages/acme.log")), peer.name).toBe(false);
            expect(fs.existsSync(path.join(peer.rootfs, "etc/ssl/uacme/private/key.pem")), peer.name).toBe(false);
            expect(fs.existsSync(path.join(peer.rootfs, "usr/local/lib/selfpages/acme-renew")), peer.name).toBe(false);
            expect((await hostRun(peer.name, "stat -c '%a %U' /etc/selfpages/cert-pull/id_ed25519 /etc/selfpages/tls/main/privkey.pem")).output.trim().split("\n")).toEqual(["600 root", "600 root"]);
        }
        // A hook per site and server, at the server's address.
        for (const site of siteNames) {
            const urls = env.standin.hooks(repositories[site]).map((h) => h.config.url).sort();
            expect(urls).toEqual(serving.map((h) => `http://${h.address}/webhook/${site}`).sort());
        }
        const outputs = await stack.outputs();
        expect(outputs.servers.value).toEqual(Object.fromEntries(serving.map((h) => [h.name, h.address])));
    });

    it("2. a push to each site is served by every server", async () => {
        for (const site of siteNames) {
            const { token, sha } = publish(site);
            const sentAt = Date.now();
            const deliveries = await env.standin.sendPush(repositories[site], { ref: "refs/heads/gh-pages", after: sha });
            expect(deliveries.map((d) => d.status_code)).toEqual(serving.map(() => 202));
            await Promise.all(serving.map((host) => waitFor(`${host.name} to serve ${site}'s push`, async () => (await served(host, site, "/version.txt")) === token, 30_000, 50)));
            recordFigure(figuresFile, `fleetPushServedOnEveryServerMs.${site}`, Date.now() - sentAt);
        }
    });

    it("3. a server down during a push: the others serve it, and it catches up through its fallback sync", async () => {
        await stack.setConfig("selfpages:syncSchedule", { value: "* * * * *" });
        expect((await stack.up({ onOutput })).summary.result).toBe("succeeded");
        const [, , down] = serving;
        await stopServer(down);
        try {
            const { token, sha } = publish("main");
            const deliveries = await env.standin.sendPush(repositories.main, { ref: "refs/heads/gh-pages", after: sha });
            const byUrl = new Map(deliveries.map((d) => [d.url, d.status_code]));
            expect(byUrl.get(`http://${down.address}/webhook/main`)).not.toBe(202);
            for (const host of serving.slice(0, 2)) {
                expect(byUrl.get(`http://${host.address}/webhook/main`), host.name).toBe(202);
                await waitFor(`${host.name} to serve the push`, async () => (await served(host, "main", "/version.txt")) === token, 30_000, 100);
            }

            // 4. meanwhile, an `up` that changes every server: the down one fails, named; the others converge.
            await stack.setConfig("selfpages:syncSchedule", { value: "*/2 * * * *" });
            const failed = await stack.up({ onOutput, continueOnError: true }).then(
                () => "",
                (error: Error) => error.message,
            );
            expect(failed).toMatch(new RegExp(`server ${down.name} \\(${down.address.replace(/\./g, "\\.")}\\): preflight failed`));
            for (const host of serving.slice(0, 2)) expect(await crontabOf(host), `${host.name}, after:\n${failed.slice(-4000)}`).toMatch(/^\*\/2 \* \* \* \* /m);
            expect(await crontabOf(down)).toMatch(/^\* \* \* \* \* /m);
        } finally {
            await startServer(down);
        }
        const token = (await served(serving[0], "main", "/version.txt")) as string;
        const started = Date.now();
        await waitFor(`${down.name} to catch up through cron`, async () => (await served(down, "main", "/version.txt")) === token, 150_000, 1000);
        recordFigure(figuresFile, "fleetCatchUpAfterDownSeconds", (Date.now() - started) / 1000);
        // The next up converges it.
        expect((await stack.up({ onOutput })).summary.result).toBe("succeeded");
        expect(await crontabOf(down)).toMatch(/^\*\/2 \* \* \* \* /m);
    });

    it("5. a peer's key runs the export program and nothing else, whatever it asks", async () => {
        const [lead, peer] = serving;
        const ssh = `ssh -F /dev/null -i /etc/selfpages/cert-pull/id_ed25519 -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/etc/selfpages/cert-pull/known_hosts -l root ${lead.address}`;
        const asked = await hostRun(peer.name, `${ssh} 'id; cat /etc/shadow' | tar -tf -`);
        expect(asked.code).toBe(0);
        expect(asked.output).toMatch(/main\/fullchain\.pem/);
        expect(asked.output).not.toMatch(/uid=|root:/);
    });

    it("6. a renewal forced on the lead reaches every peer by its pull job, without an up", async () => {
        const [lead, ...peers] = serving;
        const before = await serialsOf("main");
        const ordersBefore = env.acme.issuedCertificates();
        const renew = await hostRun(lead.name, "SELFPAGES_ACME_CONF=/etc/selfpages/sites/main/acme.conf /usr/local/lib/selfpages/acme-renew force");
        expect(renew.code, renew.output).toBe(0);
        expect(env.acme.issuedCertificates() - ordersBefore).toBe(1);
        const servedBy = async (host: SandboxHost) => (await fetchFrom(host, "main")).certificate.serialNumber;
        // nginx's reload is graceful: the old workers may answer a moment longer.
        const renewed = await waitFor("the lead serving the renewed certificate", async () => { const serial = await servedBy(lead); return serial !== before[0] && serial; }, 10_000);
        // The job's command, as cron runs it (/etc/cron.d on Debian).
        for (const peer of peers) {
            const job = fs.readFileSync(path.join(peer.rootfs, "etc/cron.d/selfpages-cert-pull"), "utf8");
            const command = /^\*\/15 \* \* \* \* root (.*) >\/dev\/null 2>&1$/m.exec(job)?.[1];
            expect(command, peer.name).toBe("/usr/local/lib/selfpages/cert-pull cron");
            // Without its random wait of up to a minute (which spreads the fleet's pulls at the lead).
            const ran = await hostRun(peer.name, `SELFPAGES_CERT_PULL_SPLAY=0 ${command ?? "false"}`);
            expect(ran.code, `${peer.name}: ${ran.output}`).toBe(0);
        }
        for (const peer of peers) await waitFor(`${peer.name} serving the renewed certificate`, async () => (await servedBy(peer)) === renewed, 10_000);
        expect(await serialsOf("main")).toEqual(serving.map(() => renewed));
        // The other site's certificate did not change, and nothing more was ordered.
        expect(new Set(await serialsOf("blog")).size).toBe(1);
        expect(env.acme.issuedCertificates() - ordersBefore).toBe(1);
    });

    it("7. a server added (the current certificates on its first up, no new order), then one removed, while every listed server is probed", async () => {
        probed = [...serving];
        const stop = probe();
        try {
            const ordersBefore = env.acme.issuedCertificates();
            await listServers([...serving, hosts[3]]);
            expect((await stack.up({ onOutput })).summary.result).toBe("succeeded");
            probed = [...serving];
            expect(env.acme.issuedCertificates() - ordersBefore).toBe(0);
            for (const site of siteNames) {
                const res = await fetchFrom(hosts[3], site);
                expect(res.status, site).toBe(200);
                expect(res.certificate.serialNumber).toBe((await fetchFrom(serving[0], site)).certificate.serialNumber);
            }
            // The lead allows each peer's key to run the export program only; the operator's key stays.
            const authorized = fs.readFileSync(path.join(serving[0].rootfs, "root/.ssh/authorized_keys"), "utf8");
            const pullLines = authorized.split("\n").filter((l) => l.includes("selfpages-cert-pull:"));
            expect(pullLines.map((l) => l.replace(/ssh-ed25519 \S+/, "KEY")).sort()).toEqual(serving.slice(1).map((p) => `command="/usr/local/lib/selfpages/cert-export",restrict KEY selfpages-cert-pull:${p.name}`).sort());
            expect(authorized).toContain(serving[0].publicKey.trim().split(" ").slice(0, 2).join(" "));

            const removed = serving[1];
            probed = serving.filter((h) => h !== removed);
            await listServers(probed);
            expect((await stack.up({ onOutput })).summary.result).toBe("succeeded");
            for (const site of siteNames) {
                const urls = env.standin.hooks(repositories[site]).map((h) => h.config.url).sort();
                expect(urls).toEqual(serving.map((h) => `http://${h.address}/webhook/${site}`).sort());
            }
            expect((await hostRun(removed.name, "crontab -u selfpages -l 2>&1 || true")).output).not.toMatch(/selfpages\/sync/);
            expect(fs.readFileSync(path.join(serving[0].rootfs, "root/.ssh/authorized_keys"), "utf8")).not.toContain(`selfpages-cert-pull:${removed.name}`);
        } finally {
            const { count, failures } = await stop();
            recordFigure(figuresFile, "fleetProbesDuringAddRemove", count);
            expect(count).toBeGreaterThan(50);
            expect(failures).toEqual([]);
        }
    });

    it("8. a second up changes nothing; no private key appears in the state or the engine's output", async () => {
        const up = await stack.up({ onOutput });
        expect(Object.entries(up.summary.resourceChanges ?? {}).filter(([op]) => op !== "same")).toEqual([]);
        const state = await exportStack(env);
        // The SSH keys of the connections are secrets (encrypted); the certificates' keys never came to Pulumi.
        expect(state).not.toMatch(/PRIVATE KEY/);
        const output = engineOutput.join("\n");
        for (const host of serving) {
            for (const site of siteNames) {
                const key = fs.readFileSync(path.join(host.rootfs, `etc/selfpages/tls/${site}/privkey.pem`), "utf8").split("\n")[1];
                expect(key.length).toBeGreaterThan(20);
                expect(state).not.toContain(key);
                expect(output).not.toContain(key);
            }
        }
    });
});
