import { describe, expect, it } from "vitest";
import { ConfigError, hookUrlOn, maxServers, validateConfig } from "../../lib/config";
import { assocSites, fleetServers, validValues, fleetValues, isSecretKey, isSecretKeyInFleet, sitesValues, testPrivateKey, validFleetConfig } from "./fixtures";

function problemsFor(values: Record<string, string>, isSecret = isSecretKeyInFleet): string[] {
    try {
        validateConfig("selfpages", values, isSecret);
    } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
    }
    return [];
}

describe("config: a fleet (`servers`)", () => {
    it("gives every server its address, port, OS and key, shared defaults filled in", () => {
        const { settings, secrets } = validFleetConfig();
        expect(settings.fleet).toBe(true);
        expect(settings.servers.map((s) => [s.name, s.host.address, s.host.port, s.host.user, s.os, s.platform.family])).toEqual([
            ["selfpages", "203.0.113.10", 22, "root", "alpine", "alpine"],
            ["web2", "203.0.113.11", 2222, "root", "alpine", "alpine"],
            ["web3", "2001:db8::3", 22, "root", "debian", "debian"],
        ]);
        expect(settings.host).toEqual(settings.servers[0].host);
        expect(secrets.serverPrivateKeys.selfpages).toBe(testPrivateKey);
        expect(secrets.serverPrivateKeys.web2).toBe(testPrivateKey);
        expect(secrets.serverPrivateKeys.web3).toBe(fleetServers[2].privateKey);
    });

    it("delivers each site's pushes to each server at its address, one hook path per site", () => {
        const { settings } = validFleetConfig(fleetServers, sitesValues(assocSites));
        const urls = settings.servers.map((server) => settings.sites.map((site) => hookUrlOn(settings, site, server)));
        expect(urls[0]).toEqual(settings.sites.map((site) => `http://203.0.113.10/webhook/${site.name}`));
        expect(urls[2][0]).toBe(`http://[2001:db8::3]/webhook/${settings.sites[0].name}`);
        // The sites' own URLs are the same whatever the number of servers.
        expect(settings.sites[0].url).toBe("https://assoc.example.org/");
    });

    it("keeps the one-server form's hook URL without `servers`", () => {
        // An empty list is Pulumi.yaml's default: the one-server keys describe the server.
        const { settings } = validateConfig("selfpages", validValues({ servers: "[]" }), isSecretKey);
        expect(settings.fleet).toBe(false);
        expect(hookUrlOn(settings, settings.sites[0], settings.servers[0])).toBe("https://do-it.example.org/webhook");
    });

    it("refuses the one-server keys beside `servers`, naming them", () => {
        const problems = problemsFor({ ...fleetValues(), hostAddress: "203.0.113.9", hostKey: fleetServers[0].hostKey, receiverPublicUrl: "https://hooks.example.org/x" });
        expect(problems).toEqual([
            expect.stringMatching(/^selfpages:hostAddress: is for the one-server form/),
            expect.stringMatching(/^selfpages:hostKey: is for the one-server form/),
            expect.stringMatching(/^selfpages:receiverPublicUrl: is for the one-server form/),
        ]);
    });

    it("refuses a name or an address used twice, naming the entry", () => {
        const problems = problemsFor(fleetValues([fleetServers[0], { ...fleetServers[1], name: "selfpages" }, { ...fleetServers[2], address: "203.0.113.10", port: 22 }]));
        expect(problems).toEqual([
            `selfpages:servers[1].name: "selfpages" is already the name of selfpages:servers[0]`,
            `selfpages:servers[2].address: "203.0.113.10" is already the address of selfpages:servers[0]`,
        ]);
    });

    it(`refuses more than ${maxServers} servers: GitHub delivers a push to at most 20 hooks`, () => {
        const many = Array.from({ length: maxServers + 1 }, (_, i) => ({ name: `web${i}`, address: `203.0.113.${i + 1}`, hostKey: fleetServers[0].hostKey }));
        expect(problemsFor(fleetValues(many))).toEqual([expect.stringMatching(/^selfpages:servers: must list at most 20 servers: GitHub delivers a push to at most 20 hooks/)]);
        expect(problemsFor(fleetValues(many.slice(0, maxServers)))).toEqual([]);
    });

    it("needs a key for every server, and a server's own key stored encrypted (never echoed)", () => {
        const noShared = fleetValues();
        delete noShared.hostPrivateKey;
        expect(problemsFor(noShared)).toEqual([
            "selfpages:servers[0].privateKey: is required (or set hostPrivateKey, the key of every server that sets none)",
            "selfpages:servers[1].privateKey: is required (or set hostPrivateKey, the key of every server that sets none)",
        ]);
        const plain = problemsFor(fleetValues(), isSecretKey);
        expect(plain).toEqual(["selfpages:servers[2].privateKey: must be stored encrypted: run `pulumi config set --secret --path 'servers[2].privateKey' ...`"]);
        const bad = problemsFor(fleetValues([{ ...fleetServers[2], privateKey: "not-a-key-but-secret-text" }]));
        expect(bad).toEqual(["selfpages:servers[0].privateKey: must be a PEM or OpenSSH private key"]);
        expect(bad.join("\n")).not.toContain("not-a-key-but-secret-text");
    });

    it("refuses a server whose address is also a site's name", () => {
        const problems = problemsFor(fleetValues(fleetServers, { siteServerNames: JSON.stringify(["203.0.113.11"]), tls: "off" }));
        expect(problems).toEqual([expect.stringMatching(/^selfpages:servers\[1\]\.address: "203\.0\.113\.11" is also in selfpages:siteServerNames: in a fleet/)]);
    });

    it("validates each server's fields, naming the entry and field", () => {
        const problems = problemsFor(fleetValues([{ name: "Web 1", address: "no such host!", hostKey: "ssh-dss AAAA", port: 0, os: "arch", extra: 1 }]));
        expect(problems).toEqual(
            expect.arrayContaining([
                expect.stringMatching(/^selfpages:servers\[0\]\.name: must be 1 to 24 lowercase letters/),
                expect.stringMatching(/^selfpages:servers\[0\]\.address: must be a hostname or an IP address/),
                expect.stringMatching(/^selfpages:servers\[0\]\.hostKey: must be one public host key line/),
                expect.stringMatching(/^selfpages:servers\[0\]\.port: must be at least 1/),
                expect.stringMatching(/^selfpages:servers\[0\]\.os: /),
                expect.stringMatching(/^selfpages:servers\[0\]\.extra: unknown/),
            ]),
        );
    });
});
