/** What templates/nginx.conf.hbs renders: every top-level site, with the project sites under its name. */
export interface NginxParameters {
    listenPort: number;
    httpPort: number;
    http2Directive: boolean;
    hstsMaxAge: number;
    /** The ACME webroot nginx answers challenges from on port 80, with TLS. */
    tls: false | { webroot: string };
    receiverPort: number;
    /** The first one answers requests for names no site has (default_server). */
    sites: NginxSite[];
}

export interface NginxSite {
    name: string;
    canonicalName: string;
    /** Each answers 301 to the canonical name, path kept. */
    redirectNames: string[];
    /** The current release's served folder. */
    root: string;
    certificate?: { certificate: string; key: string };
    hook: { path: string; id: string };
    projects: Array<{ name: string; path: string; root: string; hook: { path: string; id: string } }>;
}
