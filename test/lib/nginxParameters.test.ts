import { describe, expect, it } from "vitest";
import { nginxParameters } from "../../lib/hostFiles";
import { validConfig, validSitesConfig } from "./fixtures";

/** What nginx is told to serve, site by site (the template itself: test/templates/nginx*.test.ts). */
describe("nginx parameters", () => {
    it("gives each top-level site its canonical name, redirects, served folder, certificate and hook, with its project sites", () => {
        const { settings } = validSitesConfig(undefined, { receiverPort: "9123" });
        expect(nginxParameters(settings, 443, 80)).toEqual({
            listenPort: 443,
            httpPort: 80,
            http2Directive: true,
            hstsMaxAge: 0,
            tls: { webroot: "/var/lib/selfpages-acme" },
            receiverPort: 9123,
            sites: [
                {
                    name: "main",
                    canonicalName: "assoc.example.org",
                    redirectNames: ["www.assoc.example.org"],
                    root: "/srv/selfpages/sites/main/current",
                    certificate: { certificate: "/etc/selfpages/tls/main/fullchain.pem", key: "/etc/selfpages/tls/main/privkey.pem" },
                    hook: { path: "/webhook", id: "main" },
                    projects: [{ name: "docs", path: "/docs/", root: "/srv/selfpages/sites/docs/current", hook: { path: "/docs/webhook", id: "docs" } }],
                },
                {
                    name: "events",
                    canonicalName: "events.example.org",
                    redirectNames: [],
                    // Published from /docs: the release's docs folder is served.
                    root: "/srv/selfpages/sites/events/current/docs",
                    certificate: { certificate: "/etc/selfpages/tls/events/fullchain.pem", key: "/etc/selfpages/tls/events/privkey.pem" },
                    hook: { path: "/webhook", id: "events" },
                    projects: [],
                },
            ],
        });
    });

    it("without TLS: no certificates, plain HTTP; the receiver's path as configured", () => {
        const { settings } = validSitesConfig(undefined, { tls: "off", receiverPath: "/hooks/github" }, "debian");
        const parameters = nginxParameters(settings, 80, 80);
        expect(parameters).toMatchObject({ listenPort: 80, tls: false, http2Directive: false });
        for (const site of parameters.sites) expect(site).not.toHaveProperty("certificate");
        expect(parameters.sites.map((s) => [s.hook.path, ...s.projects.map((p) => p.hook.path)])).toEqual([["/hooks/github", "/docs/hooks/github"], ["/hooks/github"]]);
    });

    it("one-site form: the hook id is the site's (selfpages), and nginx routes the receiver's path even when GitHub delivers through another URL", () => {
        const { settings } = validConfig({ receiverPublicUrl: "https://proxy.example.org/github/do-it" });
        expect(settings.sites[0].hookUrl).toBe("https://proxy.example.org/github/do-it");
        const [site] = nginxParameters(settings, 443, 80).sites;
        expect(site).toMatchObject({ name: "selfpages", canonicalName: "do-it.example.org", redirectNames: ["www.do-it.example.org"], hook: { path: "/webhook", id: "selfpages" } });
    });
});
