import { renderTemplate } from "./templates";

/** What templates/nginx.conf.hbs renders: every site of one server (coordination/sites-design.md). */
export interface NginxParameters {
    /** The sites' port: 443 with TLS, 80 without (tests use free loopback ports). */
    listenPort: number;
    /** With TLS, the plain port answering ACME challenges and redirecting the rest (80). */
    httpPort: number;
    /** `http2 on;` (nginx 1.25.1 and later) rather than the `listen ... http2` parameter. */
    http2Directive: boolean;
    /** Strict-Transport-Security max-age; 0 sends no header. */
    hstsMaxAge: number;
    /**
     * TLS on, with the webroot the ACME client writes its challenges to; false serves plain HTTP.
     * challengeFallback: on a fleet's peer, the lead's plain-HTTP URL (http://address, no path),
     * asked for a challenge missing here, since the lead alone orders certificates.
     */
    tls: false | { webroot: string; challengeFallback?: string };
    /** The webhook receiver's loopback port. */
    receiverPort: number;
    /** Top-level sites; the first is the default server, answering requests for unknown names. */
    sites: NginxSite[];
    /**
     * A fleet server: GitHub delivers each site's pushes to it at its own address, on the plain
     * port, where it also tells which commit it serves for each site (the lead's reporter asks).
     */
    serverHooks?: { address: string; hooks: NginxHook[]; commits: NginxCommit[] };
}

export interface NginxSite {
    name: string;
    /** The server name that serves the site. */
    canonicalName: string;
    /** Each answers 301 to <scheme>://canonicalName$request_uri. */
    redirectNames: string[];
    /** The directory served: the site's current link and its folder. */
    root: string;
    /** The site's certificate, covering all its names; required with TLS. */
    certificate?: { certificate: string; key: string };
    hook: NginxHook;
    /** Project sites served under this site's canonical name. */
    projects: NginxProject[];
}

export interface NginxProject {
    name: string;
    /** One segment between slashes: "/docs/". */
    path: string;
    root: string;
    /** Its webhook is under its path: "/docs/webhook". */
    hook: NginxHook;
}

/** The exact path nginx proxies, and the receiver's hook id it goes to (`/hooks/<id>`). */
export interface NginxHook {
    path: string;
    id: string;
}

/** Where a fleet server answers the commit it serves for a site: `path` at its address, from `file`. */
export interface NginxCommit {
    site: string;
    path: string;
    /** The current release's commit file (its `.selfpages-commit`, through the `current` link). */
    file: string;
}

/**
 * The nginx config for `parameters`. The config schema validates names and paths before this; what
 * is checked here is only what the template's shape relies on, so a caller's slip fails here and
 * not in `nginx -t` on the host.
 */
export function renderNginxConf(parameters: NginxParameters): string {
    if (parameters.sites.length === 0) throw new Error("nginx: no site to serve (sites is empty)");
    const fallback = parameters.tls ? parameters.tls.challengeFallback : undefined;
    if (fallback !== undefined && !/^http:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d+)?$/.test(fallback)) {
        throw new Error(`nginx: the challenge fallback must be http://host or http://host:port, not ${JSON.stringify(fallback)}`);
    }
    for (const site of parameters.sites) {
        if (parameters.tls && !site.certificate) throw new Error(`nginx: site ${site.name} has no certificate, and TLS is on`);
        for (const project of site.projects) {
            if (!/^\/[A-Za-z0-9._-]+\/$/.test(project.path)) throw new Error(`nginx: project ${project.name}'s path must be one segment between slashes ("/docs/"), not ${JSON.stringify(project.path)}`);
        }
    }
    // Handlebars indents every line of an indented partial, blank ones too.
    return renderTemplate("nginx.conf", parameters).replace(/[ \t]+$/gm, "");
}
