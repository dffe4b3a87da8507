import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostLayout } from "../../lib/layout";
import { acmeHook, platforms, webhookBinary } from "../../lib/platform";
import { type Apkbuild, type InstalledPackage, type Repository, alpineAvailable, alpineDir, allApkbuilds, aportsDir, extractMinirootfs, parseInstalledDb, readApkbuild, rootfsBusybox } from "./packaging";

/**
 * Every Alpine fact the program relies on, held against Alpine's own packaging (aports files and
 * the 3.20.3 minirootfs, ../shared/third_party/alpine): a wrong assumption fails here, not on a
 * user's first `up`. Facts whose only source is outside that packaging are named in the README.
 */

const alpine = platforms.alpine;
const layout = hostLayout("/srv/site");
const read = (file: string) => fs.readFileSync(path.join(aportsDir, file), "utf8");

describe.skipIf(!alpineAvailable)("Alpine's packaging holds what the program assumes", () => {
    let apkbuilds: Apkbuild[];
    let installed: InstalledPackage[];
    let root: string;
    const apkbuild = (pkgname: string) => {
        const found = apkbuilds.find((a) => a.pkgname === pkgname);
        if (!found) throw new Error(`no APKBUILD for ${pkgname} under ${aportsDir}`);
        return found;
    };

    beforeAll(() => {
        apkbuilds = allApkbuilds();
        root = extractMinirootfs(["bin/busybox", "lib/ld-musl-x86_64.so.1", "lib/apk/db/installed", "etc/crontabs/root"]);
        installed = parseInstalledDb(fs.readFileSync(path.join(root, "lib/apk/db/installed"), "utf8"));
    });
    afterAll(() => {
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    /**
     * Where a package name comes from, by the strongest evidence stored: the APKBUILD that builds it
     * (its folder is the repository); else the minirootfs, made from main alone (by name, or by
     * origin: an origin is the pkgname of its aport); else a main aport building against NAME-dev
     * (main builds only against main, and an aport's -dev subpackage is NAME-dev).
     */
    function repositoryOf(name: string): { repository: Repository; evidence: string } | undefined {
        const built = apkbuilds.find((a) => a.pkgname === name || a.subpackages.includes(name));
        if (built) return { repository: built.repository, evidence: `${built.repository}/${built.aport}/APKBUILD` };
        const inRootfs = installed.find((p) => p.name === name || p.origin === name);
        if (inRootfs) return { repository: "main", evidence: `minirootfs: ${inRootfs.name} (origin ${inRootfs.origin})` };
        const buildsAgainst = apkbuilds.find((a) => a.repository === "main" && a.buildInputs.some((w) => w.split(/[<>=~]/)[0] === `${name}-dev`));
        if (buildsAgainst) return { repository: "main", evidence: `main/${buildsAgainst.aport} builds against ${name}-dev` };
        return undefined;
    }

    it("every package in the list is built by Alpine, and the community ones are enabled by the install command", () => {
        const found = Object.fromEntries(alpine.packages.map((p) => [p, repositoryOf(p)]));
        for (const [name, source] of Object.entries(found)) expect(source, `${name}: no evidence in ${alpineDir}`).toBeDefined();
        const community = alpine.packages.filter((p) => found[p]?.repository === "community");
        expect(community.sort()).toEqual(["uacme", "webhook"]);
        // The install command enables community before `apk add`.
        expect(alpine.packagesInstallCommand).toMatch(/\/etc\/apk\/repositories[\s\S]*community[\s\S]*apk update && apk add --no-cache/);
        expect(alpine.packagesInstallCommand).toContain(`apk add --no-cache ${alpine.packages.join(" ")}`);
        expect(alpine.packagesPresentCommand).toBe(`apk info -e ${alpine.packages.join(" ")} >/dev/null`);
    });

    it("the binaries are where the program calls them", () => {
        // webhook: the receiver's init script runs this path.
        expect(apkbuild("webhook").text).toMatch(/install -Dm755 bin\/webhook -t "\$pkgdir"\/usr\/bin\n/);
        expect(webhookBinary).toBe("/usr/bin/webhook");
        // nginx at /usr/sbin/nginx, as the init script runs it.
        expect(apkbuild("nginx").text).toContain("--sbin-path=/usr/sbin/$pkgname");
        expect(read("main/nginx/nginx.initd")).toContain("command=${command:-/usr/sbin/nginx}");
        // openrc-run, rc-service, rc-update in /sbin (the host check looks for /sbin/openrc-run).
        expect(apkbuild("openrc").text).toContain("--sbindir=/sbin");
        // getent (the service account's creation): musl-utils, not busybox.
        expect(installed.find((p) => p.name === "musl-utils")?.files).toContain("usr/bin/getent");
        const applets = rootfsBusybox(root, ["--list-full"]).stdout.split("\n");
        expect(applets).not.toContain("usr/bin/getent");
        // crond and crontab are busybox's; the init script starts /usr/sbin/crond.
        expect(applets).toEqual(expect.arrayContaining(["usr/sbin/crond", "usr/bin/crontab", "bin/run-parts", "usr/sbin/addgroup", "usr/sbin/adduser", "usr/sbin/deluser", "usr/sbin/delgroup", "usr/bin/flock"]));
        expect(read("main/busybox/crond.initd")).toMatch(/^command="\/usr\/sbin\/\$SVCNAME"$/m);
    });

    it("nginx includes http.d, where the stock default server sits; its version takes `http2 on;`", () => {
        const nginx = apkbuild("nginx");
        expect(nginx.text).toContain("install -dm755 ./etc/$pkgname/http.d");
        expect(path.dirname(alpine.nginxSiteConfPath)).toBe("/etc/nginx/http.d");
        // The stored nginx.conf is 3.14-era (see the README there), the include line unchanged since.
        expect(read("main/nginx/nginx.conf")).toMatch(/^\s*include \/etc\/nginx\/http\.d\/\*\.conf;$/m);
        // The default server: shipped in /usr/share, copied into http.d on install when absent.
        expect(nginx.text).toContain('install -Dm644 "$srcdir"/default.conf ./usr/share/$pkgname/http-default_server.conf');
        expect(read("main/nginx/nginx.post-install")).toMatch(/http-default_server\.conf[\s\S]*\/etc\/nginx\/http\.d\/default\.conf/);
        expect(alpine.nginxDefaultSitePath).toBe("/etc/nginx/http.d/default.conf");
        expect(read("main/nginx/default.conf")).toMatch(/listen 80 default_server;/);
        // `http2 on;` exists from 1.25.1 on, where `listen ... http2` is deprecated.
        const [major, minor, patch] = nginx.pkgver.split(".").map(Number);
        expect(major * 1e6 + minor * 1e3 + patch).toBeGreaterThanOrEqual(1_025_001);
        expect(alpine.nginxHttp2).toBe("directive");
    });

    it("each init script the program starts ships in a package of the list", () => {
        // nginx's: package() installs it and abuild's default split (no function named) moves
        // etc/init.d into nginx-openrc.
        const nginx = apkbuild("nginx");
        expect(nginx.text).toContain('install -Dm755 "$srcdir"/$pkgname.initd ./etc/init.d/$pkgname');
        expect(nginx.vars.subpackages.split(/\s+/)).toContain("nginx-openrc");
        // crond's: busybox's own openrc() split moves $_openrc_files, crond.initd among them.
        const busybox = readApkbuild("main", "busybox", ["_openrc_files"]);
        expect(busybox.vars.subpackages.split(/\s+/)).toContain("busybox-openrc");
        expect(busybox.functionBody("openrc")).toContain("_helper_openrc $_openrc_files");
        expect(busybox.vars._openrc_files.split(/\s+/)).toEqual(expect.arrayContaining(["crond.initd", "crond.confd"]));
        expect(alpine.cronService).toBe("crond");
        expect(alpine.packages).toEqual(expect.arrayContaining(["nginx-openrc", "busybox-openrc", "openrc"]));
    }, 10_000);

    it("root's stock crontab runs the daily directory, which run-parts reads our job from", () => {
        const crontab = read("main/alpine-baselayout/crontab");
        expect(fs.readFileSync(path.join(root, "etc/crontabs/root"), "utf8")).toBe(crontab);
        expect(apkbuild("alpine-baselayout").text).toContain('install -m600 "$srcdir"/crontab "$pkgdir"/etc/crontabs/root');
        expect(crontab).toMatch(new RegExp(`^0\\s+2\\s+\\*\\s+\\*\\s+\\*\\s+run-parts ${alpine.dailyJobDir}$`, "m"));
        // crond reads /etc/crontabs, where `crontab -u` writes (busybox's spool dir links there).
        expect(read("main/busybox/crond.confd")).toContain('CRON_OPTS="-c /etc/crontabs"');
        expect(apkbuild("alpine-baselayout").text).toContain('ln -s /etc/crontabs "$pkgdir"/var/spool/cron/crontabs');
        // run-parts skips names with a dot (busybox's default: letters, digits, _ and -).
        expect(layout.acmeDailyJob).toMatch(/^[A-Za-z0-9_-]+$/);
    });

    it("uacme's hook and its config directory are its build's defaults", () => {
        // uacme installs its hook as pkgdata (Makefile.am: dist_pkgdata_SCRIPTS = uacme.sh) and reads
        // SYSCONFDIR/ssl/uacme by default (uacme.c: DEFAULT_CONFDIR); Alpine configures these.
        const uacme = apkbuild("uacme");
        expect(uacme.text).toMatch(/--prefix=\/usr \\/);
        expect(uacme.text).toMatch(/--sysconfdir=\/etc \\/);
        expect(uacme.text).toMatch(/make DESTDIR="\$pkgdir" install/);
        expect(acmeHook).toBe("/usr/share/uacme/uacme.sh");
        expect(layout.acmeDir).toBe("/etc/ssl/uacme");
    });
});
