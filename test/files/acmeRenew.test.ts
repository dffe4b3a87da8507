import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { acmeConfigFile, acmeDailyJobFile, acmeRenewScriptFile, filesDir, shippedProgram } from "../../lib/hostFiles";
import { reloadNginxIfRunning } from "../../lib/openrc";
import { shellQuote } from "../../lib/templates";
import { assocSites, validConfig, validSitesConfig } from "../lib/fixtures";
import { createTempDir, runLoggingCalls, tempDir } from "../templates/support";

/**
 * The renew program as it ships (files/acme-renew.sh), with its parameters rendered for a temporary
 * directory (templates/acme.conf.hbs) and stand-ins for uacme, nginx and rc-service on PATH (each logs its calls):
 * what it does for each uacme outcome. The real uacme against pebble is in test/e2e/https.test.ts.
 */

const run = promisify(execFile);

describe.each(["alpine", "debian"] as const)("acme-renew script (%s)", (osFamily) => {
    const dir = tempDir(`acme-renew-${osFamily}`);
    const bin = path.join(dir, "bin");
    const calls = path.join(dir, "calls.log");
    const acmeDir = path.join(dir, "uacme");
    const tlsDir = path.join(dir, "tls");
    const logFile = path.join(dir, "acme.log");
    const script = path.join(dir, "acme-renew");
    const config = path.join(dir, "acme.conf");
    const { settings } = validConfig({ siteServerNames: '["site.example.org","www.site.example.org"]', tlsContactEmail: "web@example.org" }, osFamily);
    const layout = { ...settings.layout, acmeDir, acmeLog: logFile, acmeChallengeDir: path.join(dir, "webroot", "challenge") };
    const [site] = settings.sites;
    const siteLayout = { ...site.layout, tlsCertificate: path.join(tlsDir, "fullchain.pem"), tlsKey: path.join(tlsDir, "privkey.pem") };
    const file = acmeRenewScriptFile({ ...settings, layout });
    const configFile = acmeConfigFile({ ...settings, layout }, { ...site, layout: siteLayout });

    /** A fake uacme: `new` makes the account key; `issue` answers with the next status in $dir/statuses. */
    const fakeUacme = `#!/bin/sh
echo "uacme $*" >> ${calls}
for a in "$@"; do last=$a; done
case " $* " in
  *" new "*) mkdir -p ${acmeDir}/private && echo account > ${acmeDir}/private/key.pem; exit 0 ;;
esac
status=$(head -n 1 ${dir}/statuses); sed -i 1d ${dir}/statuses
if [ "$status" = 0 ]; then
  mkdir -p ${acmeDir}/site.example.org ${acmeDir}/private/site.example.org
  echo "cert $(date +%s%N)" > ${acmeDir}/site.example.org/cert.pem
  echo key > ${acmeDir}/private/site.example.org/key.pem
fi
if [ "$status" = 2 ]; then echo 'uacme: challenge http-01 failed'; echo 'uacme: urn:ietf:params:acme:error:connection: Connection refused (the CA says)'; fi
if [ "$status" = 3 ]; then echo "uacme: no account associated with ${acmeDir}/private/key.pem found at https://ca/sign-me-up. Consider trying 'new'"; exit 2; fi
exit "$status"
`;

    const runScript = async (mode: string, statuses: number[]) => {
        fs.writeFileSync(path.join(dir, "statuses"), statuses.map((s) => `${s}\n`).join(""));
        return runLoggingCalls("sh", [script, mode], { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, SELFPAGES_ACME_RETRY_DELAY: "0", SELFPAGES_ACME_CONF: config }, calls);
    };

    beforeAll(() => {
        createTempDir(dir);
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "uacme"), fakeUacme, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "nginx"), `#!/bin/sh\necho "nginx $*" >> ${calls}\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "rc-service"), `#!/bin/sh\necho "rc-service $*" >> ${calls}\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "openssl"), `#!/bin/sh\necho "notAfter=Mar  1 00:00:00 2027 GMT"\n`, { mode: 0o755 });
        if (!file || !configFile) throw new Error("no program or parameters with tls on");
        fs.writeFileSync(script, file.content, { mode: 0o755 });
        fs.writeFileSync(config, configFile.content);
    });
    beforeEach(() => {
        fs.rmSync(tlsDir, { recursive: true, force: true });
        fs.mkdirSync(tlsDir);
        // The placeholder nginx starts with.
        fs.writeFileSync(siteLayout.tlsCertificate, "placeholder cert\n");
        fs.writeFileSync(siteLayout.tlsKey, "placeholder key\n");
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("passes shellcheck -s sh, the program as it ships", async () => {
        await run("shellcheck", ["-s", "sh", script]);
    });

    it("ships as it is (without its inner comments); its parameters are single-quoted in acme.conf, the reload is the stack's one", () => {
        expect(file?.content).toBe(shippedProgram(fs.readFileSync(path.join(filesDir, "acme-renew.sh"), "utf8")));
        expect(acmeConfigFile(settings, site)).toMatchObject({ path: "/etc/selfpages/sites/selfpages/acme.conf", mode: "0644", owner: "root", group: "root" });
        const content = acmeConfigFile(settings, site)?.content ?? "";
        expect(content).toContain("NAMES='site.example.org www.site.example.org'");
        expect(content).toContain("CONTACT='web@example.org'");
        expect(content).toContain("CERTIFICATE='/etc/selfpages/tls/selfpages/fullchain.pem'");
        expect(content).toContain("KEY='/etc/selfpages/tls/selfpages/privkey.pem'");
        // lib/openrc.ts's reload of nginx, word for word: a reload if it runs, then the wait for its new workers.
        expect(content).toContain(`RELOAD_NGINX=${shellQuote(reloadNginxIfRunning())}\n`);
        expect(reloadNginxIfRunning()).toMatch(/^if rc-service nginx status >\/dev\/null 2>&1; then\n[\s\S]*\nif rc-service nginx reload; then\n[\s\S]*shutting down[\s\S]*\nfi$/);
        const off = validConfig({ tls: "off" }).settings;
        expect(acmeConfigFile(off, off.sites[0])).toBeUndefined();
    });

    it("a parameter missing from acme.conf stops it before anything runs, naming it", async () => {
        fs.writeFileSync(config, configFile!.content.replace(/^CHALLENGE_DIR=.*\n/m, ""));
        try {
            const res = await runScript("up", [0]);
            expect(res.status).not.toBe(0);
            expect(res.stderr).toMatch(/CHALLENGE_DIR: is not set in acme\.conf/);
            expect(res.calls).toBe("");
        } finally {
            fs.writeFileSync(config, configFile!.content);
        }
    });

    it("first run: registers the account with the contact, issues for every name, installs and reloads nginx", async () => {
        const res = await runScript("up", [0]);
        expect(res.status).toBe(0);
        expect(res.calls).toMatch(/^uacme -y -a https:\/\/acme-v02\.api\.letsencrypt\.org\/directory -c \S+ new web@example.org$/m);
        expect(res.calls).toMatch(/^uacme -v -a \S+ -c \S+ -h \/usr\/share\/uacme\/uacme\.sh -t EC -d 30 issue site\.example\.org www\.site\.example\.org$/m);
        expect(res.calls).toMatch(/^nginx -t -q\nrc-service nginx status\nrc-service nginx reload$/m);
        expect(fs.readFileSync(siteLayout.tlsCertificate, "utf8")).toMatch(/^cert /);
        expect(fs.readFileSync(siteLayout.tlsKey, "utf8")).toBe("key\n");
        expect(fs.readdirSync(tlsDir).sort()).toEqual(["fullchain.pem", "previous", "privkey.pem"]);
        expect(res.stderr).toMatch(/installed the certificate for site\.example\.org www\.site\.example\.org/);
    });

    it("not due (uacme exits 1) and already served: nothing installed, no reload, no account call", async () => {
        await runScript("up", [0]);
        const res = await runScript("cron", [1]);
        expect(res.status).toBe(0);
        expect(res.calls).not.toMatch(/ new |reload/);
        expect(res.stderr).toBe("");
    });

    it("force: renews with -f and reloads", async () => {
        await runScript("up", [0]);
        const before = fs.readFileSync(siteLayout.tlsCertificate, "utf8");
        const res = await runScript("force", [0]);
        expect(res.status).toBe(0);
        expect(res.calls).toMatch(/ -f issue /);
        expect(res.calls).toMatch(/rc-service nginx reload/);
        expect(fs.readFileSync(siteLayout.tlsCertificate, "utf8")).not.toBe(before);
    });

    it("a failure is retried once; a second one logs the CA's reason and keeps the served certificate", async () => {
        await runScript("up", [0]);
        const served = fs.readFileSync(siteLayout.tlsCertificate, "utf8");
        const retried = await runScript("force", [2, 0]);
        expect(retried.status).toBe(0);
        expect(retried.calls.match(/ issue /g)).toHaveLength(2);
        const failed = await runScript("cron", [2, 2]);
        expect(failed.status).toBe(1);
        expect(failed.calls.match(/ issue /g)).toHaveLength(2);
        expect(failed.calls).not.toMatch(/reload/);
        expect(failed.stderr).toBe("");
        const log = fs.readFileSync(logFile, "utf8");
        expect(log).toMatch(/issue failed \(attempt 2, uacme status 2\): .*Connection refused \(the CA says\)/);
        expect(log).toMatch(/still serving the previous certificate \(notAfter=/);
        expect(fs.readFileSync(siteLayout.tlsCertificate, "utf8")).not.toBe(served);
    });

    it("a CA that forgot the account: registered again, then the retry issues", async () => {
        await runScript("up", [0]);
        fs.writeFileSync(path.join(bin, "uacme-forgot"), "");
        const res = await runScript("force", [3, 0]);
        fs.rmSync(path.join(bin, "uacme-forgot"));
        expect(res.status).toBe(0);
        expect(res.calls).toMatch(/ -f issue [^\n]*\nuacme -y [^\n]* new [^\n]*\nuacme -v [^\n]* -f issue /);
    });

    it("the daily job runs the script in cron mode from the platform's daily directory", () => {
        const daily = acmeDailyJobFile(settings);
        expect(daily?.path).toBe(osFamily === "alpine" ? "/etc/periodic/daily/selfpages-acme" : "/etc/cron.daily/selfpages-acme");
        expect(daily?.content).toMatch(/^SELFPAGES_ACME_CONF=\/etc\/selfpages\/sites\/selfpages\/acme\.conf \/usr\/local\/lib\/selfpages\/acme-renew cron \|\| status=1$/m);
        expect(daily?.content.match(/acme-renew/g)).toHaveLength(1);
        expect(acmeDailyJobFile(validConfig({ tls: "off" }).settings)).toBeUndefined();
    });

    it("the daily job renews every site with names (not a project site), each failure kept from stopping the others", async () => {
        const { settings: many } = validSitesConfig(assocSites, {}, osFamily);
        // The job with the renew program replaced by a stand-in that logs its site and fails for "main".
        const stub = path.join(dir, "renew-stub");
        fs.writeFileSync(stub, `#!/bin/sh\necho "$SELFPAGES_ACME_CONF $*" >> ${calls}\ncase $SELFPAGES_ACME_CONF in */main/*) exit 1 ;; esac\n`, { mode: 0o755 });
        const daily = acmeDailyJobFile({ ...many, layout: { ...many.layout, acmeScript: stub } });
        expect(daily?.content.match(/renew-stub cron/g)).toHaveLength(2);
        const job = path.join(dir, "daily-job");
        fs.writeFileSync(job, daily?.content ?? "", { mode: 0o755 });
        fs.writeFileSync(calls, "");
        await run("shellcheck", ["-s", "sh", job]);
        const status = await run("sh", [job]).then(
            () => 0,
            (error: { code: number }) => error.code,
        );
        expect(status).toBe(1);
        expect(fs.readFileSync(calls, "utf8")).toBe("/etc/selfpages/sites/main/acme.conf cron\n/etc/selfpages/sites/events/acme.conf cron\n");
    });
});
