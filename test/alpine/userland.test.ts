import * as fs from "node:fs";
import * as os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as path from "node:path";
import { gzipBase64, installFileScript } from "../../lib/hostCommand";
import { hostCheckScript, parseHostFacts } from "../../lib/hostChecks";
import { crontabFile } from "../../lib/hostFiles";
import { enableCommunityRepository, platforms, systemCaBundle } from "../../lib/platform";
import { privateCaFile, privateCaScripts } from "../../components/tls";
import { validConfig } from "../lib/fixtures";
import { makeTestCa } from "../templates/support";
import { AlpineRoot, chrootUnavailable } from "./chroot";
import { alpineAvailable } from "./packaging";

/**
 * What the program runs on an Alpine host, run by Alpine's own userland (busybox, musl-utils,
 * /etc files of the 3.20.3 minirootfs), chrooted and offline: everything that needs no package
 * repository.
 */

const unavailable = alpineAvailable ? chrootUnavailable() : "../shared/third_party/alpine is missing";
if (unavailable) console.warn(`test/alpine/userland: skipped: ${unavailable}`);

const { settings } = validConfig({ siteRoot: "/srv/site" });
const debianSettings = validConfig({ siteRoot: "/srv/site" }, "debian").settings;
const user = settings.layout.serviceUser;
const alpine = platforms.alpine;

describe.skipIf(unavailable !== undefined)("Alpine's userland runs what the program runs on the host", () => {
    let root: AlpineRoot;
    beforeAll(() => {
        root = new AlpineRoot();
    });
    afterAll(() => root?.remove());

    describe("the host check", () => {
        it("passes on Alpine 3.20 as root, and reads the facts it prints", () => {
            const r = root.run(hostCheckScript(settings));
            expect(r.stderr).toBe("");
            expect(r.status).toBe(0);
            const facts = parseHostFacts(r.stdout);
            expect(facts).toMatchObject({ osId: "alpine", osVersion: "3.20.3", openrc: false, problems: [] });
            expect(facts.freeDiskMiB).toBeGreaterThan(0);
        });

        it("refuses a release older than 3.20, and the other family", () => {
            const osRelease = root.path("/etc/os-release");
            const stock = fs.readFileSync(osRelease, "utf8");
            try {
                fs.writeFileSync(osRelease, stock.replace("VERSION_ID=3.20.3", "VERSION_ID=3.19.4"));
                const old = root.run(hostCheckScript(settings));
                expect(old.status).toBe(1);
                expect(parseHostFacts(old.stdout).problems).toEqual(["the host runs alpine 3.19.4; selfpages supports alpine 3.20 and later"]);
                // An edge host's VERSION_ID names the next release.
                fs.writeFileSync(osRelease, stock.replace("VERSION_ID=3.20.3", "VERSION_ID=3.21.0_alpha20240807"));
                expect(root.run(hostCheckScript(settings)).status).toBe(0);
            } finally {
                fs.writeFileSync(osRelease, stock);
            }
            const other = root.run(hostCheckScript(debianSettings));
            expect(other.status).toBe(1);
            expect(parseHostFacts(other.stdout).problems).toEqual(["selfpages:os is debian but the host runs 'alpine'", "the host has no OpenRC (openrc-run not found)"]);
        });
    });

    it("creates the service account twice (the second a no-op) and removes it", () => {
        const create = `set -eu\n${alpine.createServiceAccountCommand(user)}`;
        for (let i = 0; i < 2; i++) expect(root.run(create)).toMatchObject({ status: 0, stderr: "" });
        const passwd = fs.readFileSync(root.path("/etc/passwd"), "utf8").split("\n").filter((l) => l.startsWith(`${user}:`));
        expect(passwd).toHaveLength(1);
        const [, , uid, gid, , home, shell] = passwd[0].split(":");
        // A system account (adduser -S: below 1000), no login, its own group.
        expect(Number(uid)).toBeLessThan(1000);
        expect(home).toBe(`/var/lib/${user}`);
        expect(shell).toBe("/sbin/nologin");
        expect(fs.existsSync(root.path("/sbin/nologin"))).toBe(true);
        expect(root.run(`getent group ${user}`).stdout).toMatch(new RegExp(`^${user}:x:${gid}:`));
        expect(root.run(`id -gn ${user}`).stdout).toBe(`${user}\n`);

        expect(root.run(`set -eu\n${alpine.removeServiceAccountCommand(user)}`)).toMatchObject({ status: 0 });
        expect(fs.readFileSync(root.path("/etc/passwd"), "utf8")).not.toContain(`${user}:`);
        expect(fs.readFileSync(root.path("/etc/group"), "utf8")).not.toMatch(new RegExp(`^${user}:`, "m"));
        // Removing what is gone is fine too.
        expect(root.run(`set -eu\n${alpine.removeServiceAccountCommand(user)}`)).toMatchObject({ status: 0 });
    });

    it("installs the service account's crontab twice: one sync line, in the directory crond reads", () => {
        expect(root.run(`set -eu\n${alpine.createServiceAccountCommand(user)}`).status).toBe(0);
        const crontab = crontabFile(settings).content;
        for (let i = 0; i < 2; i++) expect(root.run(`crontab -u ${user} -`, crontab)).toMatchObject({ status: 0, stderr: "" });
        const installed = fs.readFileSync(root.path(`/etc/crontabs/${user}`), "utf8");
        expect(installed).toBe(crontab);
        expect(installed.split("\n").filter((l) => l.includes(settings.layout.syncScript))).toHaveLength(1);
        expect(root.run(`crontab -u ${user} -l`).stdout).toBe(crontab);
        // busybox crond reads /etc/crontabs (crond.confd: -c /etc/crontabs), as crontab -u wrote.
        expect(fs.statSync(root.path(`/etc/crontabs/${user}`)).mode & 0o777).toBe(0o600);
        expect(root.run(`crontab -u ${user} -r`).status).toBe(0);
        expect(fs.existsSync(root.path(`/etc/crontabs/${user}`))).toBe(false);
        expect(root.run(alpine.removeServiceAccountCommand(user)).status).toBe(0);
    });

    describe("enabling the community repository", () => {
        const repositories = () => root.path("/etc/apk/repositories");
        let stock: string;
        beforeAll(() => {
            stock = fs.readFileSync(repositories(), "utf8");
        });
        afterAll(() => fs.writeFileSync(repositories(), stock));
        const edit = (before: string) => {
            fs.writeFileSync(repositories(), before);
            expect(root.run(`set -eu\n${enableCommunityRepository}`)).toMatchObject({ status: 0, stderr: "" });
            return fs.readFileSync(repositories(), "utf8");
        };

        it("on a 3.17-era file with edge lines: only the release's own community line, edge stays commented", () => {
            // As setup-apkrepos of alpine-conf 3.10-3.15 wrote it (kept through upgrades).
            const before = [
                "#/media/cdrom/apks",
                "http://dl-cdn.alpinelinux.org/alpine/v3.17/main",
                "#http://dl-cdn.alpinelinux.org/alpine/v3.17/community",
                "#http://dl-cdn.alpinelinux.org/alpine/edge/main",
                "#http://dl-cdn.alpinelinux.org/alpine/edge/community",
                "#http://dl-cdn.alpinelinux.org/alpine/edge/testing",
                "",
            ].join("\n");
            const after = edit(before);
            expect(after).toBe(before.replace("#http://dl-cdn.alpinelinux.org/alpine/v3.17/community", "http://dl-cdn.alpinelinux.org/alpine/v3.17/community"));
            // Again: nothing more.
            expect(edit(after)).toBe(after);
        });

        it("adds the community twin of each enabled main line when none is written, as setup-apkrepos -o does", () => {
            const before = "https://mirror.example/alpine/v3.20/main/\n#https://mirror.example/alpine/edge/community\n";
            expect(edit(before)).toBe(`${before}https://mirror.example/alpine/v3.20/community\n`);
        });

        it("leaves a file alone that enables community already (the minirootfs's own)", () => {
            expect(stock).toMatch(/^https:\/\/dl-cdn\.alpinelinux\.org\/alpine\/v3\.20\/community$/m);
            expect(edit(stock)).toBe(stock);
        });
    });

    describe("a program shipped compressed (files/, gzip and base64 on stdin)", () => {
        it("is installed byte for byte by busybox's base64 and gzip, with its mode", () => {
            const program = fs.readFileSync(path.join(__dirname, "..", "..", "files", "sync.sh"), "utf8");
            const r = root.run(installFileScript({ path: "/usr/local/lib/selfpages/sync", mode: "0755", owner: "root", group: "root", compressed: true }), gzipBase64(program));
            expect(r.stderr).toBe("");
            expect(r.status).toBe(0);
            expect(fs.readFileSync(root.path("/usr/local/lib/selfpages/sync"), "utf8")).toBe(program);
            expect((fs.statSync(root.path("/usr/local/lib/selfpages/sync")).mode & 0o777).toString(8)).toBe("755");
        });
    });

    describe("a private ACME server's CA (tlsCaBundle)", () => {
        it("is added to the bundle libcurl reads, once, without rebuilding the store", async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-ca-"));
            try {
                const ca = (await makeTestCa(dir)).toString("utf8");
                const bundle = root.path(systemCaBundle);
                const stock = fs.readFileSync(bundle, "utf8");
                const { create } = privateCaScripts();
                try {
                    for (const run of [1, 2]) {
                        const r = root.run(create, ca);
                        expect(r.stderr, `run ${run}`).toBe("");
                        expect(r.status, `run ${run}`).toBe(0);
                        expect(fs.readFileSync(bundle, "utf8"), `run ${run}`).toBe(stock + ca);
                    }
                    expect(fs.readFileSync(root.path(privateCaFile), "utf8")).toBe(ca);
                    expect((fs.statSync(bundle).mode & 0o777).toString(8)).toBe("644");
                    expect(fs.readdirSync(path.dirname(bundle)).filter((f) => f.startsWith("ca-certificates.crt."))).toEqual([]);
                } finally {
                    fs.writeFileSync(bundle, stock);
                    fs.rmSync(root.path(privateCaFile), { force: true });
                }
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
});
