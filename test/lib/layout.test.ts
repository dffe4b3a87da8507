import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { allHostFiles } from "../../lib/hostFiles";
import { createDirectoriesScript, hostDirectories, removeDirectoriesScript, serverDirectories, tlsDirectories } from "../../lib/layout";
import { validConfig } from "./fixtures";

describe("host directories, declared once", () => {
    const { settings } = validConfig({ githubDeploymentsToken: "github_pat_layoutTest_0123456789abcdef" });

    it("holds every file the stack writes under its own directories, each directory after its parent", () => {
        const directories = hostDirectories(settings).map((d) => d.path);
        const ours = allHostFiles(settings, ["s"]).filter((f) => /^\/(etc|usr\/local\/lib)\/selfpages\//.test(f.path));
        expect(ours.length).toBeGreaterThan(5);
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
            "install -d -o selfpages -g selfpages -m 0750 '/var/lib/selfpages'",
            "install -d -o selfpages -g selfpages -m 0750 '/var/log/selfpages'",
            "install -d -o root -g selfpages -m 0750 '/etc/selfpages'",
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
        expect(removeDirectoriesScript(serverDirectories(settings.layout))).toBe("rm -rf '/srv/selfpages' '/var/lib/selfpages' '/var/log/selfpages' '/etc/selfpages' '/usr/local/lib/selfpages'");
    });
});
