import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { serverSettings, type Settings } from "../../lib/config";
import { certExportConfigFile, certExportScriptFile, certificateLead, certPullConfigFile, certPullJobFile, certPullScriptFile } from "../../lib/hostFiles";
import { assocSites, fleetServers, sitesValues, validFleetConfig } from "../lib/fixtures";
import { createTempDir, runLoggingCalls, tempDir } from "../templates/support";
import { which } from "../templates/syncFixtures";

/**
 * The export program (a fleet's lead) and the pull program (a peer) as they ship, with their
 * parameters rendered for a temporary directory, under dash and under busybox ash with only its
 * applets (Alpine), the real openssl, and stand-ins for ssh (it runs the export program in place
 * of the lead, as the lead's forced command would) and nginx. The certificates are real ones made
 * with openssl, so the pull's own checks (key matches certificate, not expired) run for real.
 */

const sh = which("dash");
const busybox = which("busybox");
const openssl = which("openssl");
const shells = [...(sh ? [{ name: "dash", command: [sh], onlyBusybox: false }] : []), ...(busybox ? [{ name: "busybox", command: [busybox, "sh"], onlyBusybox: true }] : [])];

describe.skipIf(!openssl || shells.length === 0).each(shells)("certificate export and pull ($name)", (shell) => {
    const dir = tempDir(`cert-sharing-${shell.name}`);
    const bin = path.join(dir, "bin");
    const calls = path.join(dir, "calls.log");
    const acmeDir = path.join(dir, "lead-uacme");
    const tlsDir = path.join(dir, "peer-tls");
    const logFile = path.join(dir, "cert-pull.log");
    const exportScript = path.join(dir, "cert-export");
    const exportConf = path.join(dir, "cert-export.conf");
    const pullScript = path.join(dir, "cert-pull");
    const pullConf = path.join(dir, "cert-pull.conf");

    const { settings: stack } = validFleetConfig(fleetServers, sitesValues(assocSites));
    const layout = { ...stack.layout, acmeDir, tlsDir, certPullLog: logFile, certPullKey: path.join(dir, "id_ed25519"), certPullKnownHosts: path.join(dir, "known_hosts") };
    const lead: Settings = { ...serverSettings(stack, stack.servers[0]), layout };
    const peer: Settings = { ...serverSettings(stack, stack.servers[1]), layout };
    // The sites with a certificate: main (assoc.example.org ...) and events; docs is under main.
    const certified = { main: "assoc.example.org", events: "events.example.org" };

    /** A certificate and its key as uacme leaves them on the lead (a serial to tell them apart). */
    function issueOnLead(first: string, days = 30): string {
        fs.mkdirSync(path.join(acmeDir, first), { recursive: true });
        fs.mkdirSync(path.join(acmeDir, "private", first), { recursive: true });
        const serial = `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`;
        execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", String(days), "-set_serial", serial, "-subj", `/CN=${first}`, "-keyout", path.join(acmeDir, "private", first, "key.pem"), "-out", path.join(acmeDir, first, "cert.pem")], { stdio: "ignore" });
        return serial;
    }
    const served = (site: string) => ({ cert: path.join(tlsDir, site, "fullchain.pem"), key: path.join(tlsDir, site, "privkey.pem") });
    // Serials as numbers: openssl pads to whole bytes.
    const servedSerial = (site: string) => BigInt(`0x${execFileSync("openssl", ["x509", "-noout", "-serial", "-in", served(site).cert], { encoding: "utf8" }).trim().replace(/^serial=/, "")}`);

    async function pull(mode = "cron") {
        // No random wait before a cron pull, none between attempts (the shipped values are checked below).
        const env = { PATH: shell.onlyBusybox ? `${bin}:${path.join(dir, "busybox-bin")}` : `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, SELFPAGES_CERT_PULL_CONF: pullConf, SELFPAGES_CERT_PULL_SPLAY: "0", SELFPAGES_CERT_PULL_RETRY_DELAY: "0" };
        return runLoggingCalls(shell.command[0], [...shell.command.slice(1), pullScript, mode], env, calls);
    }

    beforeAll(() => {
        createTempDir(dir);
        fs.mkdirSync(bin);
        if (shell.onlyBusybox && busybox && openssl) {
            const applets = path.join(dir, "busybox-bin");
            fs.mkdirSync(applets);
            for (const applet of execFileSync(busybox, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean)) fs.symlinkSync(busybox, path.join(applets, applet));
            // A package on Alpine (the list's openssl), not an applet.
            fs.symlinkSync(openssl, path.join(bin, "openssl"));
        }
        // ssh as the pull calls it: its options logged, the lead's forced command run in its place
        // (whatever the peer asks), unless $dir/ssh-fails says the lead is unreachable (its text is
        // ssh's error; $dir/ssh-fails-left, when present, counts the failures left).
        fs.writeFileSync(
            path.join(bin, "ssh"),
            `#!/bin/sh
echo "ssh $*" >> ${calls}
if [ -e ${dir}/ssh-fails ]; then
    left=$(cat ${dir}/ssh-fails-left 2>/dev/null || echo always)
    if [ "$left" != 0 ]; then
        [ "$left" = always ] || echo $((left - 1)) > ${dir}/ssh-fails-left
        message=$(cat ${dir}/ssh-fails)
        echo "\${message:-ssh: connect to host lead port 22: Connection refused}" >&2
        exit 255
    fi
fi
SELFPAGES_CERT_EXPORT_CONF=${exportConf} exec ${shell.command.join(" ")} ${exportScript}
`,
            { mode: 0o755 },
        );
        fs.writeFileSync(path.join(bin, "nginx"), `#!/bin/sh\necho "nginx $*" >> ${calls}\n[ ! -e ${dir}/nginx-refuses ]\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "rc-service"), `#!/bin/sh\necho "rc-service $*" >> ${calls}\n`, { mode: 0o755 });
        fs.writeFileSync(exportScript, certExportScriptFile(lead).content, { mode: 0o755 });
        fs.writeFileSync(exportConf, certExportConfigFile(lead).content);
        const leadServer = certificateLead(peer);
        if (!leadServer) throw new Error("the second server is no peer");
        fs.writeFileSync(pullScript, certPullScriptFile(peer).content, { mode: 0o755 });
        fs.writeFileSync(pullConf, certPullConfigFile(peer, leadServer).content);
    });
    beforeEach(() => {
        for (const d of [acmeDir, tlsDir]) fs.rmSync(d, { recursive: true, force: true });
        for (const f of ["ssh-fails", "ssh-fails-left", "nginx-refuses"]) fs.rmSync(path.join(dir, f), { force: true });
        fs.rmSync(logFile, { force: true });
        // uacme's account key, which must never leave the lead.
        fs.mkdirSync(path.join(acmeDir, "private"), { recursive: true });
        fs.writeFileSync(path.join(acmeDir, "private", "key.pem"), "-----BEGIN PRIVATE KEY-----\naccount\n-----END PRIVATE KEY-----\n");
        // The placeholders a peer starts with.
        for (const site of Object.keys(certified)) {
            fs.mkdirSync(path.join(tlsDir, site), { recursive: true, mode: 0o700 });
            fs.writeFileSync(served(site).cert, "placeholder cert\n");
            fs.writeFileSync(served(site).key, "placeholder key\n", { mode: 0o600 });
        }
    });
    afterAll(() => {
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("renders its parameters: the lead's address, port and user, the sites with a certificate", () => {
        const conf = fs.readFileSync(pullConf, "utf8");
        expect(conf).toContain(`LEAD_HOST='${fleetServers[0].address}'`);
        expect(conf).toContain("LEAD_PORT='22'");
        expect(conf).toContain("LEAD_USER='root'");
        expect(conf).toContain("SITES='main events'");
        expect(fs.readFileSync(exportConf, "utf8")).toContain("CERTIFICATES='main=assoc.example.org events=events.example.org'");
    });

    it("exports each site's certificate and key, and never uacme's account key", async () => {
        issueOnLead(certified.main);
        const tar = execFileSync(shell.command[0], [...shell.command.slice(1), exportScript], { env: { PATH: process.env.PATH, SELFPAGES_CERT_EXPORT_CONF: exportConf } });
        const listing = execFileSync("tar", ["-tf", "-"], { input: tar, encoding: "utf8" }).split("\n").filter(Boolean).map((p) => p.replace(/^\.\//, "")).filter((p) => p !== "" && p !== ".");
        // events has no certificate on the lead yet: left out.
        expect(listing.filter((p) => p.endsWith(".pem")).sort()).toEqual(["main/fullchain.pem", "main/privkey.pem"]);
        expect(tar.toString("latin1")).not.toContain("account");
    });

    it("keeps the placeholders while the lead has no certificate, without reloading nginx", async () => {
        const result = await pull("up");
        expect(result.status).toBe(0);
        expect(fs.readFileSync(served("main").cert, "utf8")).toBe("placeholder cert\n");
        expect(result.calls).not.toMatch(/rc-service|nginx/);
        expect(fs.readFileSync(logFile, "utf8")).toMatch(/the lead has no certificate for main yet/);
    });

    it("fetches with the peer's own key and the pinned host key only, then installs each changed certificate (key 0600) and reloads nginx once", async () => {
        const mainSerial = issueOnLead(certified.main);
        const eventsSerial = issueOnLead(certified.events);
        const first = await pull();
        expect(first.status).toBe(0);
        const [sshCall] = first.calls.split("\n").filter((l) => l.startsWith("ssh "));
        for (const option of ["-F /dev/null", `-i ${layout.certPullKey}`, "-o IdentitiesOnly=yes", "-o BatchMode=yes", "-o StrictHostKeyChecking=yes", `-o UserKnownHostsFile=${layout.certPullKnownHosts}`, "-o GlobalKnownHostsFile=/dev/null", "-p 22", "-l root", fleetServers[0].address]) {
            expect(sshCall).toContain(option);
        }
        expect(servedSerial("main")).toBe(BigInt(mainSerial));
        expect(servedSerial("events")).toBe(BigInt(eventsSerial));
        expect(fs.readFileSync(served("main").key, "utf8")).toBe(fs.readFileSync(path.join(acmeDir, "private", certified.main, "key.pem"), "utf8"));
        for (const site of Object.keys(certified)) expect(fs.statSync(served(site).key).mode & 0o777, site).toBe(0o600);
        expect(first.calls.match(/rc-service nginx reload/g)).toHaveLength(1);
        expect(first.calls).toContain("nginx -t -q");
        // Nothing left behind in the certificates' directory but the sites' own.
        expect(fs.readdirSync(tlsDir).sort()).toEqual(["events", "main"]);

        // Nothing changed: nothing installed, no reload.
        const again = await pull();
        expect(again.status).toBe(0);
        expect(again.calls).not.toMatch(/rc-service/);

        // A renewal on the lead reaches the peer on its next run.
        const renewed = issueOnLead(certified.main);
        const third = await pull();
        expect(third.status).toBe(0);
        expect(servedSerial("main")).toBe(BigInt(renewed));
        expect(servedSerial("events")).toBe(BigInt(eventsSerial));
        expect(third.calls.match(/rc-service nginx reload/g)).toHaveLength(1);
        expect(fs.readFileSync(logFile, "utf8")).toMatch(/installed the certificate for main/);
    });

    it("installs nothing from the lead that nginx could not serve: a key of another certificate, an expired one", async () => {
        issueOnLead(certified.main);
        const otherKey = path.join(dir, "other-key.pem");
        execFileSync("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", otherKey], { stdio: "ignore" });
        fs.copyFileSync(otherKey, path.join(acmeDir, "private", certified.main, "key.pem"));
        const mismatched = await pull();
        expect(mismatched.status).toBe(1);
        expect(fs.readFileSync(served("main").cert, "utf8")).toBe("placeholder cert\n");
        expect(fs.readFileSync(logFile, "utf8")).toMatch(/for main is expired or does not match its key; not installed/);
    });

    it("fails a fetch that fails, loudly during up and into the log from cron, and keeps what is served", async () => {
        issueOnLead(certified.main);
        fs.writeFileSync(path.join(dir, "ssh-fails"), "");
        const up = await pull("up");
        expect(up.status).toBe(1);
        expect(up.stderr).toMatch(/fetching from 203\.0\.113\.10:22 failed \(attempt 4\): ssh: connect to host lead port 22: Connection refused/);
        expect(up.calls.split("\n").filter((l) => l.startsWith("ssh "))).toHaveLength(4);
        const cron = await pull("cron");
        expect(cron.status).toBe(1);
        expect(cron.stderr).toBe("");
        expect(fs.readFileSync(logFile, "utf8")).toMatch(/cert-pull: fetching from 203\.0\.113\.10:22 failed \(attempt 4\)/);
        expect(fs.readFileSync(served("main").cert, "utf8")).toBe("placeholder cert\n");
    });

    it("tries again when the lead closes the connection (its sshd's MaxStartups), and installs on the attempt that passes", async () => {
        const serial = issueOnLead(certified.main);
        fs.writeFileSync(path.join(dir, "ssh-fails"), "kex_exchange_identification: Connection closed by remote host\nConnection closed by 203.0.113.10 port 22");
        fs.writeFileSync(path.join(dir, "ssh-fails-left"), "2");
        const up = await pull("up");
        expect(up.status).toBe(0);
        expect(up.calls.split("\n").filter((l) => l.startsWith("ssh "))).toHaveLength(3);
        expect(up.stderr).toMatch(/attempt 1 failed, trying again: kex_exchange_identification: Connection closed by remote host/);
        expect(servedSerial("main")).toBe(BigInt(serial));
    });

    it.each([
        ["another host key", "Host key verification failed."],
        ["a refused key", "root@203.0.113.10: Permission denied (publickey)."],
        ["a timeout", "ssh: connect to host 203.0.113.10 port 22: Connection timed out"],
    ])("does not try again after %s: it would not pass", async (_, message) => {
        issueOnLead(certified.main);
        fs.writeFileSync(path.join(dir, "ssh-fails"), message);
        const up = await pull("up");
        expect(up.status).toBe(1);
        expect(up.calls.split("\n").filter((l) => l.startsWith("ssh "))).toHaveLength(1);
        expect(up.stderr).toContain(`failed (attempt 1): ${message}`);
    });

    it("ships with a random wait before a cron pull (up to a minute) and 1-3 s between attempts; `up` does not wait first", () => {
        const script = fs.readFileSync(pullScript, "utf8");
        expect(script).toContain("splay=${SELFPAGES_CERT_PULL_SPLAY:-60}");
        expect(script).toContain("retry_delay=${SELFPAGES_CERT_PULL_RETRY_DELAY:-3}");
        expect(script).toMatch(/if \[ "\$mode" = cron \] && \[ "\$splay" -gt 0 \]; then sleep/);
    });

    it("puts the previous certificates back when nginx -t refuses the new ones", async () => {
        issueOnLead(certified.main);
        fs.writeFileSync(path.join(dir, "nginx-refuses"), "");
        const result = await pull();
        expect(result.status).toBe(1);
        expect(fs.readFileSync(served("main").cert, "utf8")).toBe("placeholder cert\n");
        expect(fs.readFileSync(served("main").key, "utf8")).toBe("placeholder key\n");
        expect(result.calls).not.toMatch(/rc-service nginx reload/);
        expect(fs.readFileSync(logFile, "utf8")).toMatch(/nginx -t refused the new certificates of main/);
    });
});

describe("the pull job", () => {
    it("runs every 15 minutes as root: a script in Alpine's periodic directory, a cron.d line on Debian", () => {
        const { settings } = validFleetConfig();
        const alpine = certPullJobFile(serverSettings(settings, settings.servers[1]));
        expect(alpine.path).toBe("/etc/periodic/15min/selfpages-cert-pull");
        expect(alpine.mode).toBe("0755");
        expect(alpine.content).toMatch(/^#!\/bin\/sh\n/);
        expect(alpine.content).toContain("exec /usr/local/lib/selfpages/cert-pull cron");
        const debian = certPullJobFile(serverSettings(settings, settings.servers[2]));
        expect(debian.path).toBe("/etc/cron.d/selfpages-cert-pull");
        expect(debian.mode).toBe("0644");
        expect(debian.content).toContain("*/15 * * * * root /usr/local/lib/selfpages/cert-pull cron >/dev/null 2>&1\n");
        // cron.d and run-parts both skip names with a dot.
        expect(path.basename(debian.path)).toMatch(/^[A-Za-z0-9_-]+$/);
    });
});
