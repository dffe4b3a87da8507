import * as dgram from "node:dgram";
import { describe, expect, it } from "vitest";
import { hostAddressesScript, serverNameProblems, type NameResolver } from "../../lib/hostChecks";
import { nameResolver } from "../../lib/preflight";
import { serverSettings } from "../../lib/config";
import { fleetServers, validConfig, validFleetConfig } from "./fixtures";

const fake = (table: Record<string, string[]>): NameResolver => ({ description: "test DNS", resolve: async (name) => table[name] ?? [] });

describe("server names resolve to the host (preflight, tls on)", () => {
    const { settings } = validConfig({ hostAddress: "vm.example.org", siteServerNames: '["site.example.org","www.site.example.org"]' });

    it("passes when every name resolves to the host's address or one of its interfaces", async () => {
        const resolver = fake({ "vm.example.org": ["203.0.113.10"], "site.example.org": ["203.0.113.10"], "www.site.example.org": ["10.0.0.5"] });
        expect(await serverNameProblems(settings, ["127.0.0.1", "10.0.0.5"], resolver)).toEqual([]);
    });

    it("names a server name that does not resolve, and one that resolves elsewhere, with what it resolved to", async () => {
        const resolver = fake({ "vm.example.org": ["203.0.113.10"], "site.example.org": ["203.0.113.10", "198.51.100.9"] });
        expect(await serverNameProblems(settings, ["10.0.0.5"], resolver)).toEqual([
            "server name site.example.org resolves to 203.0.113.10, 198.51.100.9, not only to the host (10.0.0.5, 203.0.113.10) (test DNS); the ACME server could not validate it: fix its DNS records or set selfpages:tls to off",
            "server name www.site.example.org does not resolve (test DNS); the ACME server could not validate it: point it at the host (10.0.0.5, 203.0.113.10) or set selfpages:tls to off",
        ]);
    });

    it("in a fleet, a name may resolve to any of its servers (a peer hands the lead's challenges on), not elsewhere", async () => {
        const fleet = validFleetConfig(fleetServers, { siteServerNames: '["site.example.org"]' }).settings;
        const peer = serverSettings(fleet, fleet.servers[1]);
        // As nameResolver does: an address resolves to itself.
        const withAddresses = (table: Record<string, string[]>): NameResolver => ({ description: "test DNS", resolve: async (name) => (/^[\d.]+$/.test(name) || name.includes(":") ? [name] : (table[name] ?? [])) });
        const all = withAddresses({ "site.example.org": ["203.0.113.11", "203.0.113.10", "2001:db8::3"] });
        expect(await serverNameProblems(peer, ["203.0.113.11"], all)).toEqual([]);
        const outside = withAddresses({ "site.example.org": ["203.0.113.10", "198.51.100.9"] });
        expect(await serverNameProblems(peer, ["203.0.113.11"], outside)).toEqual([
            "server name site.example.org resolves to 203.0.113.10, 198.51.100.9, not only to the fleet's servers (203.0.113.11, 203.0.113.10, 2001:db8::3) (test DNS); the ACME server could not validate it: fix its DNS records or set selfpages:tls to off",
        ]);
    });

    it("checks nothing with tls off", async () => {
        expect(await serverNameProblems(validConfig({ tls: "off" }).settings, [], fake({}))).toEqual([]);
    });

    it("reads the host's addresses from `ip addr` output", () => {
        expect(hostAddressesScript).toMatch(/^ip addr show/);
    });

    it("asks the DNS server SELFPAGES_DNS_SERVER names, and reads no answer as unresolved", async () => {
        // A DNS server that answers nothing: the resolver gives up and the name counts as unresolved.
        const socket = dgram.createSocket("udp4");
        await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
        const { port } = socket.address();
        let asked = 0;
        socket.on("message", () => asked++);
        try {
            const resolver = nameResolver(`127.0.0.1:${port}`);
            expect(resolver.description).toBe(`DNS server 127.0.0.1:${port}`);
            expect(await resolver.resolve("203.0.113.7")).toEqual(["203.0.113.7"]);
            expect(await resolver.resolve("nowhere.example.org")).toEqual([]);
            expect(asked).toBeGreaterThan(0);
        } finally {
            socket.close();
        }
    }, 20_000);
});
