import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { declareFleet } from "../../components";
import { fleetServers, testPrivateKey, validFleetConfig } from "../lib/fixtures";
import { isSecretValue, registerUnderMocks, remoteCommandType, type Registered } from "./harness";

/**
 * A fleet with TLS under mocks: the lead (the first server) alone orders; each peer fetches the
 * lead's certificates over SSH with a key of its own, after the lead issued them; no private key
 * reaches Pulumi.
 */

const peerKeys: Record<string, string> = {
    "web2-certificate-pull-key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIWeb2PeerPublicKeyOnly0123456789abcdefgh selfpages-cert-pull@203.0.113.11\n",
    "web3-certificate-pull-key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIWeb3PeerPublicKeyOnly0123456789abcdefgh selfpages-cert-pull@2001:db8::3\n",
};

async function declare(overrides: Record<string, string> = {}, servers: unknown[] = fleetServers): Promise<Registered[]> {
    const { settings, secrets } = validFleetConfig(servers, overrides);
    return registerUnderMocks(() => {
        declareFleet({ settings, secrets });
    }, peerKeys);
}

const byName = (resources: Registered[], name: string): Registered => {
    const found = resources.find((r) => r.name === name);
    if (!found) throw new Error(`no resource ${name}; have ${resources.map((r) => r.name).join(", ")}`);
    return found;
};

/** Every resource `name` depends on, directly or through its dependencies. */
function dependsOnTransitively(resources: Registered[], name: string): Set<string> {
    const byUrn = new Map(resources.map((r) => [r.name, r]));
    const seen = new Set<string>();
    const visit = (r: Registered | undefined) => {
        for (const urn of r?.dependencies ?? []) {
            const dep = byUrn.get(urn.split("::").pop() ?? "");
            if (dep && !seen.has(dep.name)) {
                seen.add(dep.name);
                visit(dep);
            }
        }
    };
    visit(byName(resources, name));
    return seen;
}

const commandNames = (resources: Registered[]) => resources.filter((r) => r.type === remoteCommandType).map((r) => r.name);
/** The steps of one server: the lead's keep the one-server names, a peer's start with its name. */
const ofServer = (names: string[], server: string) => names.filter((n) => (server === "selfpages" ? !/^web\d/.test(n) : n.startsWith(`${server}-`) || n.startsWith(`${server}.`)));

describe("a fleet's certificates under mocks", () => {
    it("the lead alone has the ACME client and the issue steps; each peer has its pull steps and none of those", async () => {
        const resources = await declare();
        const names = commandNames(resources);
        const ordering = /-(renew-script|renewal-job|renew-config|ca-bundle|issue)$/;
        expect(ofServer(names, "selfpages").filter((n) => ordering.test(n)).sort()).toEqual(["selfpages-certificate-issue", "selfpages-certificate-renew-config", "selfpages-tls-renew-script", "selfpages-tls-renewal-job"].sort());
        expect(ofServer(names, "selfpages").filter((n) => n.includes("certificate-export")).sort()).toEqual(["selfpages-certificate-export-config", "selfpages-certificate-export-peer-web2", "selfpages-certificate-export-peer-web3", "selfpages-certificate-export-program"]);
        expect(names.filter((n) => n.includes("certificate-pull") && !/^web\d/.test(n))).toEqual([]);
        for (const peer of ["web2", "web3"]) {
            const mine = ofServer(names, peer);
            expect(mine.filter((n) => ordering.test(n)), peer).toEqual([]);
            expect(mine.filter((n) => n.includes("certificate-export")), peer).toEqual([]);
            expect(mine.filter((n) => n.startsWith(`${peer}-certificate-pull-`)).sort(), peer).toEqual(
                ["key", "known-hosts", "program", "config", "job", "pull"].map((s) => `${peer}-certificate-pull-${s}`).sort(),
            );
            // The placeholder until the first pull, and the cleanup of the certificates' directories.
            expect(mine, peer).toEqual(expect.arrayContaining([`${peer}.selfpages-certificate-placeholder`, `${peer}-tls-cleanup`]));
        }
        const components = resources.filter((r) => r.type.startsWith("selfpages:tls:")).map((r) => `${r.type} ${r.name}`);
        expect(components.filter((c) => c.includes("CertificatePull")).sort()).toEqual(["selfpages:tls:CertificatePull web2-certificate-pull", "selfpages:tls:CertificatePull web3-certificate-pull"]);
        expect(components.filter((c) => c.includes("CertificateExport"))).toEqual(["selfpages:tls:CertificateExport selfpages-certificate-export"]);
    });

    it("each peer's pull during up waits for the lead's issuance, the export and its key allowed on the lead, and its own nginx", async () => {
        const resources = await declare();
        for (const peer of ["web2", "web3"]) {
            const deps = dependsOnTransitively(resources, `${peer}-certificate-pull-pull`);
            expect([...deps], peer).toEqual(
                expect.arrayContaining([
                    "selfpages-certificate-issue",
                    `selfpages-certificate-export-peer-${peer}`,
                    "selfpages-certificate-export-program",
                    "selfpages-certificate-export-config",
                    `${peer}-nginx-service`,
                    `${peer}-certificate-pull-key`,
                    `${peer}-certificate-pull-known-hosts`,
                    `${peer}-certificate-pull-config`,
                    `${peer}-certificate-pull-program`,
                ]),
            );
            // Provisioned in parallel otherwise: the peer's nginx does not wait for the lead.
            expect(dependsOnTransitively(resources, `${peer}-nginx-service`), peer).not.toContain("selfpages-certificate-issue");
            const pull = byName(resources, `${peer}-certificate-pull-pull`).inputs;
            expect(pull.create).toBe("/usr/local/lib/selfpages/cert-pull up");
            // Run again when the lead's issue steps are replaced (their ids).
            expect(pull.triggers).toEqual(["selfpages-certificate-issue-id"]);
        }
        // The lead allows each peer's key to run the export program, and nothing else: a step per
        // peer, so that an unreachable peer holds up only its own line.
        for (const peer of ["web2", "web3"]) {
            const access = byName(resources, `selfpages-certificate-export-peer-${peer}`);
            const key = peerKeys[`${peer}-certificate-pull-key`].split(" ").slice(0, 2).join(" ");
            expect(access.inputs.stdin, peer).toBe(`command="/usr/local/lib/selfpages/cert-export",restrict ${key} selfpages-cert-pull:${peer}\n`);
            // The operator's lines and the other peers' are kept: only this peer's line is rewritten, under a lock.
            expect(access.inputs.create, peer).toContain(`awk -v m=' selfpages-cert-pull:${peer}'`);
            expect(access.inputs.create, peer).toMatch(/flock 9/);
            expect(access.inputs.delete, peer).not.toContain("cat >>");
            const deps = [...dependsOnTransitively(resources, access.name)];
            expect(deps, peer).toContain(`${peer}-certificate-pull-key`);
            expect(deps.filter((d) => /^web\d-certificate-pull-key$/.test(d)), peer).toEqual([`${peer}-certificate-pull-key`]);
        }
    });

    it("pins the lead's host key on each peer, and points the pull at the lead's address and port", async () => {
        const resources = await declare();
        const [lead] = fleetServers;
        for (const peer of ["web2", "web3"]) {
            expect(byName(resources, `${peer}-certificate-pull-known-hosts`).inputs.stdin, peer).toBe(`${lead.address} ${lead.hostKey}\n`);
            const config = String(byName(resources, `${peer}-certificate-pull-config`).inputs.stdin);
            expect(config).toContain(`LEAD_HOST='${lead.address}'`);
            expect(config).toContain("LEAD_PORT='22'");
            expect(config).toContain("SITES='selfpages'");
            expect(config).toContain("IDENTITY='/etc/selfpages/cert-pull/id_ed25519'");
        }
        // The key is made on the peer and only its public half is printed.
        const key = byName(resources, "web2-certificate-pull-key").inputs;
        expect(key.create).toMatch(/ssh-keygen -q -t ed25519 -N '' .* -f '\/etc\/selfpages\/cert-pull\/id_ed25519'/);
        expect(String(key.create).trim().split("\n").pop()).toBe("ssh-keygen -y -f '/etc/selfpages/cert-pull/id_ed25519'");
        // Alpine's periodic directory, Debian's cron.d.
        expect(byName(resources, "web2-certificate-pull-job").inputs.create).toContain("target='/etc/periodic/15min/selfpages-cert-pull'");
        expect(byName(resources, "web3-certificate-pull-job").inputs.create).toContain("target='/etc/cron.d/selfpages-cert-pull'");
        expect(byName(resources, "web3-certificate-pull-job").inputs.stdin).toMatch(/^\*\/15 \* \* \* \* root \/usr\/local\/lib\/selfpages\/cert-pull cron /m);
    });

    it("peers' port 80 asks the lead for a challenge they miss; the lead's does not", async () => {
        const resources = await declare();
        expect(String(byName(resources, "selfpages-nginx-site-config").inputs.stdin)).not.toContain("@acme_lead");
        for (const peer of ["web2", "web3"]) {
            const conf = String(byName(resources, `${peer}-nginx-site-config`).inputs.stdin);
            expect(conf, peer).toContain("try_files $uri @acme_lead;");
            expect(conf, peer).toContain("proxy_pass http://203.0.113.10;");
            expect(conf, peer).toContain("proxy_set_header Host $host;");
        }
    });

    it("no private key reaches Pulumi: none in any input but the SSH connection's, which is secret on the wire", async () => {
        const resources = await declare();
        const connectionKeys = new Set([testPrivateKey, fleetServers[2].privateKey]);
        for (const r of resources) {
            const { connection, ...rest } = r.inputs;
            const text = JSON.stringify(rest);
            expect(text, r.name).not.toMatch(/PRIVATE KEY/);
            if (connection !== undefined) {
                expect(connectionKeys.has(String((connection as { privateKey?: string }).privateKey)), r.name).toBe(true);
                expect(isSecretValue(r.wire.connection), r.name).toBe(true);
            }
        }
        // The only command whose output Pulumi reads on a peer prints a public key.
        for (const r of resources.filter((x) => x.type === remoteCommandType && /certificate-(pull|export)/.test(x.name))) {
            const script = `${String(r.inputs.create)}\n${String(r.inputs.update ?? "")}`;
            // No certificate key is read by a step: the pull and export programs move them over SSH.
            expect(script, r.name).not.toMatch(/privkey\.pem|key\.pem/);
            expect(script, r.name).not.toMatch(/\bcat\b[^\n|>]*(id_ed25519|privkey|key\.pem)/);
        }
    });

    it("a fleet without TLS, or of one server, shares nothing", async () => {
        for (const resources of [await declare({ tls: "off" }), await declare({}, fleetServers.slice(0, 1))]) {
            const names = commandNames(resources);
            expect(names.filter((n) => /certificate-(pull|export)/.test(n))).toEqual([]);
        }
        const solo = commandNames(await declare({}, fleetServers.slice(0, 1)));
        expect(solo).toEqual(expect.arrayContaining(["selfpages-certificate-issue", "selfpages-tls-renewal-job"]));
    });

    it("the lead's authorized_keys steps rewrite only their peer's line: the operator's and the other peers' are kept", async () => {
        const resources = await declare();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-authorized-keys-"));
        try {
            // The steps' own scripts, with root's home and the lock in a temporary directory.
            fs.writeFileSync(path.join(dir, "passwd"), `root:x:0:0:root:${dir}/root:/bin/sh\n`);
            const local = (script: unknown) => String(script).replace("/etc/passwd", path.join(dir, "passwd")).replace("/etc/selfpages/.authorized-keys.lock", path.join(dir, "lock"));
            const run = (script: unknown, stdin = "") => execFileSync("sh", ["-c", local(script)], { input: stdin });
            const keys = path.join(dir, "root", ".ssh", "authorized_keys");
            fs.mkdirSync(path.dirname(keys), { recursive: true });
            // The operator's key, without a final newline.
            fs.writeFileSync(keys, "ssh-ed25519 AAAAoperator me@laptop", { mode: 0o644 });
            const step = (peer: string) => byName(resources, `selfpages-certificate-export-peer-${peer}`).inputs;
            for (const peer of ["web2", "web3"]) run(step(peer).create, String(step(peer).stdin));
            const lines = () => fs.readFileSync(keys, "utf8").split("\n").filter(Boolean);
            expect(lines()).toEqual(["ssh-ed25519 AAAAoperator me@laptop", String(step("web2").stdin).trim(), String(step("web3").stdin).trim()]);
            expect(fs.statSync(keys).mode & 0o777).toBe(0o600);
            // Again (an update, which runs the create script: the step has no other): the same lines, not a second copy.
            expect(step("web2").update).toBeUndefined();
            run(step("web2").create, String(step("web2").stdin));
            expect(lines()).toHaveLength(3);
            // web2 removed from the fleet: its line goes, the others stay.
            run(step("web2").delete);
            expect(lines()).toEqual(["ssh-ed25519 AAAAoperator me@laptop", String(step("web3").stdin).trim()]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
