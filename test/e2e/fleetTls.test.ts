/**
 * A fleet's certificates (issue 20): servers with HTTPS from pebble. The lead (the first) alone
 * orders, validated through a peer (the sandbox's DNS answers the names with a peer first, and
 * pebble validates at the first address), which hands the challenge on to the lead; the peer pulls
 * the certificate over SSH during `up`; a third server added later gets it on its first `up`; a
 * renewal forced on the lead reaches the peers by their pull job, without an `up`. Steps run in
 * order and share the stack.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { parseDocument } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerNamesWith } from "../../sandbox/acme/pebble";
import { buildSandbox, tlsServerNames, type Sandbox } from "../../sandbox/build";
import { privateKeyOf, type SandboxHost } from "../../sandbox/hostInstance";
import { repoRoot } from "../../toolchain/env";
import { exportStack, hostRun, httpsGet, waitFor } from "./support";

const isRoot = process.getuid?.() === 0;
const [siteName] = tlsServerNames;

describe.skipIf(!isRoot)("a fleet with HTTPS: the lead orders, the peers pull (pebble)", () => {
    let env: Sandbox;
    let stack: Stack;
    let lead: SandboxHost;
    let peers: SandboxHost[];
    let root = "";
    const serials = () => Promise.all(env.hosts.map(async (host) => (await httpsGet(host.address, root, siteName)).certificate.serialNumber));

    /** The stack's `servers`: the first `count` hosts, as a user lists them (each key a secret, by path). */
    async function serveFrom(count: number) {
        const file = path.join(repoRoot, `Pulumi.${env.name}.yaml`);
        const doc = parseDocument(fs.readFileSync(file, "utf8"));
        doc.setIn(["config", "selfpages:servers"], env.hosts.slice(0, count).map((h) => ({ name: h.name, address: h.address, hostKey: h.hostKey, port: h.port })));
        fs.writeFileSync(file, doc.toString());
        for (const [i, host] of env.hosts.slice(0, count).entries()) await stack.setConfig(`selfpages:servers[${i}].privateKey`, { value: privateKeyOf(host), secret: true }, true);
        // The names point at the servers of the fleet only (the preflight checks it), a peer first.
        await answerNamesWith(env.host.gatewayAddress, tlsServerNames, [...env.hosts.slice(1, count), env.host].map((h) => h.address));
    }

    beforeAll(async () => {
        env = await buildSandbox({ name: "fleettls", hosts: 3, fleet: true, tls: true });
        ({ stack } = env);
        [lead, ...peers] = env.hosts;
        root = await env.acme.rootCa();
        // The third server comes later (step 2).
        await serveFrom(2);
    }, 180_000);

    afterAll(async () => {
        await env?.close();
    }, 180_000);

    it("1. up: one order for the fleet, validated through a peer; both servers serve the certificate", async () => {
        const ordersBefore = env.acme.issuedCertificates();
        const started = Date.now();
        const result = await stack.up();
        console.log(`fleet tls: up from bare, 2 servers, ${Math.round((Date.now() - started) / 100) / 10} s`);
        expect(result.summary.result).toBe("succeeded");
        expect(env.acme.issuedCertificates() - ordersBefore).toBe(1);

        const served = await Promise.all([lead, peers[0]].map(async (host) => (await httpsGet(host.address, root, siteName)).certificate.serialNumber));
        expect(new Set(served).size).toBe(1);
        const first = await httpsGet(peers[0].address, root, siteName);
        expect(first.status).toBe(200);
        expect(first.certificate.issuer.CN).toMatch(/^Pebble Intermediate/);
        expect(first.certificate.subjectaltname).toBe(tlsServerNames.map((n) => `DNS:${n}`).join(", "));

        // The CA reached a peer (the first address of the names), which asked the lead.
        const peerAccess = fs.readFileSync(path.join(peers[0].rootfs, "var/log/nginx/access.log"), "utf8");
        expect(peerAccess).toMatch(/"GET \/\.well-known\/acme-challenge\/\S+ HTTP\/1\.1" 200/);
        const leadAccess = fs.readFileSync(path.join(lead.rootfs, "var/log/nginx/access.log"), "utf8");
        expect(leadAccess).toMatch(/"GET \/\.well-known\/acme-challenge\/\S+ HTTP\/1\.1" 200/);

        // The peer ordered nothing: no ACME account, no renew program; its own key, root's alone.
        for (const peer of peers.slice(0, 1)) {
            expect(fs.existsSync(path.join(peer.rootfs, "etc/ssl/uacme/private/key.pem")), peer.name).toBe(false);
            expect(fs.existsSync(path.join(peer.rootfs, "usr/local/lib/selfpages/acme-renew")), peer.name).toBe(false);
            expect((await hostRun(peer.name, "stat -c '%a %U' /etc/selfpages/cert-pull/id_ed25519 /etc/selfpages/tls/selfpages/privkey.pem")).output.trim().split("\n")).toEqual(["600 root", "600 root"]);
            expect(fs.readFileSync(path.join(peer.rootfs, "var/log/selfpages/cert-pull.log"), "utf8"), peer.name).toMatch(/installed the certificate for selfpages/);
        }
    }, 600_000);

    it("2. a server added later gets the current certificate on its first up, with no new order", async () => {
        const current = (await httpsGet(lead.address, root, siteName)).certificate.serialNumber;
        const ordersBefore = env.acme.issuedCertificates();
        await serveFrom(3);
        const started = Date.now();
        const result = await stack.up();
        console.log(`fleet tls: up adding a third server, ${Math.round((Date.now() - started) / 100) / 10} s`);
        expect(result.summary.result).toBe("succeeded");
        expect(env.acme.issuedCertificates() - ordersBefore).toBe(0);
        expect(await serials()).toEqual([current, current, current]);
        expect(fs.readFileSync(path.join(peers[1].rootfs, "var/log/selfpages/cert-pull.log"), "utf8")).toMatch(/installed the certificate for selfpages/);
        // The lead allows each peer's key to run the export program only.
        const authorized = fs.readFileSync(path.join(lead.rootfs, "root/.ssh/authorized_keys"), "utf8").split("\n").filter((l) => l.includes("selfpages-cert-pull:"));
        // A step per peer: in the order they ran.
        expect(authorized.map((l) => l.replace(/ssh-ed25519 \S+/, "KEY")).sort()).toEqual(peers.map((p) => `command="/usr/local/lib/selfpages/cert-export",restrict KEY selfpages-cert-pull:${p.name}`));
        // The operator's own key is still there.
        expect(fs.readFileSync(path.join(lead.rootfs, "root/.ssh/authorized_keys"), "utf8")).toContain(lead.publicKey.trim().split(" ").slice(0, 2).join(" "));
    }, 600_000);

    it("3. a peer's key runs the export program and nothing else, whatever it asks", async () => {
        const [peer] = peers;
        const ssh = `ssh -F /dev/null -i /etc/selfpages/cert-pull/id_ed25519 -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/etc/selfpages/cert-pull/known_hosts -l root ${lead.address}`;
        // Whatever it asks, it gets the certificate stream: no shell.
        const asked = await hostRun(peer.name, `${ssh} 'id; cat /etc/shadow' | tar -tf -`);
        expect(asked.code).toBe(0);
        expect(asked.output).toMatch(/selfpages\/fullchain\.pem/);
        expect(asked.output).not.toMatch(/uid=|root:/);
    }, 120_000);

    it("4. a renewal forced on the lead reaches every peer by its pull job, without an up", async () => {
        const before = await serials();
        const ordersBefore = env.acme.issuedCertificates();
        const renew = await hostRun(lead.name, "SELFPAGES_ACME_CONF=/etc/selfpages/sites/selfpages/acme.conf /usr/local/lib/selfpages/acme-renew force");
        expect(renew.code, renew.output).toBe(0);
        expect(env.acme.issuedCertificates() - ordersBefore).toBe(1);
        // nginx's reload is graceful: the old workers may answer a moment longer.
        const servedBy = (host: SandboxHost) => async () => (await httpsGet(host.address, root, siteName)).certificate.serialNumber;
        const renewed = await waitFor("the lead serving the renewed certificate", async () => { const serial = await servedBy(lead)(); return serial !== before[0] && serial; }, 10_000);
        // The peers still serve the previous one until their job runs.
        for (const [i, peer] of peers.entries()) expect((await httpsGet(peer.address, root, siteName)).certificate.serialNumber, peer.name).toBe(before[i + 1]);
        // The job's command, as cron runs it (/etc/cron.d on Debian).
        for (const peer of peers) {
            const job = fs.readFileSync(path.join(peer.rootfs, "etc/cron.d/selfpages-cert-pull"), "utf8");
            const command = /^\*\/15 \* \* \* \* root (.*) >\/dev\/null 2>&1$/m.exec(job)?.[1];
            expect(command, peer.name).toBe("/usr/local/lib/selfpages/cert-pull cron");
            const ran = await hostRun(peer.name, command ?? "false");
            expect(ran.code, `${peer.name}: ${ran.output}`).toBe(0);
        }
        for (const peer of peers) await waitFor(`${peer.name} serving the renewed certificate`, async () => (await servedBy(peer)()) === renewed, 10_000);
        expect(await serials()).toEqual([renewed, renewed, renewed]);
        // Nothing more was ordered.
        expect(env.acme.issuedCertificates() - ordersBefore).toBe(1);
    }, 300_000);

    it("5. no certificate or private key in the stack's state", async () => {
        // As a user exports it: the SSH keys of the connections are secrets (encrypted); the
        // certificates' keys never came to Pulumi.
        const exported = await exportStack(env);
        expect(exported).toContain("fleettls-2-certificate-pull-key");
        expect(exported).not.toMatch(/PRIVATE KEY/);
    }, 120_000);
});
