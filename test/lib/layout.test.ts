import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { allHostFiles } from "../../lib/hostFiles";
import { createDirectoriesScript, hostDirectories, removeDirectoriesScript, serverDirectories, siteDirectories, tlsDirectories } from "../../lib/layout";
import { validConfig } from "./fixtures";

describe("host directories, declared once", () => {
    const { settings } = validConfig({ githubDeploymentsToken: "github_pat_layoutTest_0123456789abcdef" });

    it("holds every file the stack writes under its own directories, each directory after its parent", () => {
        const sites = settings.sites.flatMap((site) => siteDirectories(settings.layout, site.layout, site.certificateNames !== undefined));
        const directories = [...hostDirectories(settings), ...sites].map((d) => d.path);
        const ours = allHostFiles(settings, { selfpages: ["s"] }).filter((f) => /^\/(etc|usr\/local\/lib)\/selfpages\//.test(f.path));
        expect(ours.length).toBeGreaterThan(5);
        // Each site's own files (sync.conf, acme.conf, deploy-report.conf) are in its own directory.
        expect(ours.filter((f) => f.path.startsWith("/etc/selfpages/sites/selfpages/")).map((f) => f.source).sort()).toEqual(["acme.conf", "deploy-report.conf", "sync.conf"]);
        for (const file of ours) expect(directories, file.path).toContain(path.posix.dirname(file.path));
        directories.forEach((dir, i) => {
            const parent = directories.findIndex((other) => dir.startsWith(`${other}/`));
            if (parent >= 0) expect(parent, dir).toBeLessThan(i);
        });
    });

    it("makes them with their owners and modes; the certificate's only with TLS", () => {
        expect(createDirectoriesScript(hostDirectories({ ...settings, tls: undefined })).split("\n")).toEqual([
            "set -eu",
            "install -d -o selfpages -g selfpages -m 0755 '/srv/selfpages'",
            "install -d -o selfpages -g selfpages -m 0755 '/srv/selfpages/sites'",
            "install -d -o selfpages -g selfpages -m 0750 '/var/lib/selfpages'",
            "install -d -o selfpages -g selfpages -m 0750 '/var/lib/selfpages/sites'",
            "install -d -o selfpages -g selfpages -m 0750 '/var/log/selfpages'",
            "install -d -o selfpages -g selfpages -m 0750 '/var/log/selfpages/sites'",
            "install -d -o root -g selfpages -m 0750 '/etc/selfpages'",
            "install -d -o root -g selfpages -m 0750 '/etc/selfpages/sites'",
            "install -d -o root -g root -m 0755 '/usr/local/lib/selfpages'",
        ]);
        expect(hostDirectories(settings)).toEqual([...serverDirectories(settings.layout), ...tlsDirectories(settings.layout)]);
        expect(tlsDirectories(settings.layout).map((d) => `${d.path} ${d.mode} ${d.owner}:${d.group}`)).toEqual([
            "/etc/selfpages/tls 0700 root:root",
            "/etc/ssl/uacme 0700 root:root",
            "/var/lib/selfpages-acme 0755 root:root",
            "/var/lib/selfpages-acme/.well-known/acme-challenge 0755 root:root",
        ]);
    });

    it("removes them, but for uacme's, which it names", () => {
        const script = removeDirectoriesScript(tlsDirectories(settings.layout));
        expect(script.split("\n")[0]).toBe("rm -rf '/etc/selfpages/tls' '/var/lib/selfpages-acme' '/var/lib/selfpages-acme/.well-known/acme-challenge'");
        expect(script).toMatch(/^if \[ -d '\/etc\/ssl\/uacme' \]; then echo 'selfpages: left \/etc\/ssl\/uacme: it holds the ACME account key/m);
        expect(removeDirectoriesScript(serverDirectories(settings.layout))).toBe(
            "rm -rf '/srv/selfpages' '/srv/selfpages/sites' '/var/lib/selfpages' '/var/lib/selfpages/sites' '/var/log/selfpages' '/var/log/selfpages/sites' '/etc/selfpages' '/etc/selfpages/sites' '/usr/local/lib/selfpages'",
        );
    });

    it("gives each site its own directories under the shared ones, its certificate's only with one", () => {
        const [site] = settings.sites;
        expect(siteDirectories(settings.layout, site.layout, true).map((d) => `${d.path} ${d.mode} ${d.owner}:${d.group}`)).toEqual([
            "/srv/selfpages/sites/selfpages 0755 selfpages:selfpages",
            "/var/lib/selfpages/sites/selfpages 0750 selfpages:selfpages",
            "/var/log/selfpages/sites/selfpages 0750 selfpages:selfpages",
            "/etc/selfpages/sites/selfpages 0750 root:selfpages",
            "/etc/selfpages/tls/selfpages 0700 root:root",
        ]);
        expect(siteDirectories(settings.layout, site.layout, false).map((d) => d.path)).not.toContain("/etc/selfpages/tls/selfpages");
        // Removing one site removes its directories only.
        expect(removeDirectoriesScript(siteDirectories(settings.layout, site.layout, false))).toBe(
            "rm -rf '/srv/selfpages/sites/selfpages' '/var/lib/selfpages/sites/selfpages' '/var/log/selfpages/sites/selfpages' '/etc/selfpages/sites/selfpages'",
        );
    });
});
