import * as fs from "node:fs";
import * as path from "node:path";
import { serverHookPath, topLevelSites, urlHost, type ServerSettings, type Settings, type SiteSettings } from "./config";
import { reloadNginxIfRunning } from "./openrc";
import { acmeHook, webhookBinary } from "./platform";
import { renderNginxConf, type NginxParameters, type NginxSite } from "./nginxParameters";
import { renderTemplate } from "./templates";
import { projectRoot } from "./projectRoot";

/** Where a file the stack writes to the host goes, and who may read it: known without its content. */
export interface HostFileSpec {
    /** Where its content comes from: templates/<source>.hbs renders it, or files/<source> is it. */
    source: string;
    path: string;
    mode: string;
    owner: string;
    group: string;
}

export interface HostFile extends HostFileSpec {
    content: string;
    /** Travels to the host gzip-compressed (see HostFileArgs). */
    compressed?: boolean;
}

/** A site's hook id in the receiver's hooks file, and so the last segment of its loopback URL. */
export const hookId = (site: Pick<SiteSettings, "name">) => site.name;

/** Text assets the sync script precompresses for gzip_static. */
export const gzipExtensions = ["html", "htm", "css", "js", "mjs", "json", "xml", "svg", "txt", "map", "webmanifest", "ico", "wasm"];

/** Programs shipped as they are: their parameters come from small rendered files. */
export const filesDir = path.join(projectRoot(), "files");

/** The sync program, the same on every host and for every site; it reads a site's parameters from the --conf file. */
export function syncScriptFile(settings: Settings): HostFile {
    return programFile("sync.sh", settings.layout.syncScript);
}

/** How the receiver, the cron job and `pulumi up` run the sync program for a site (arguments after it). */
export const syncCommand = (settings: Settings, site: SiteSettings, mode: string) => `${settings.layout.syncScript} --conf ${site.layout.syncConfig} ${mode}`;

/**
 * A site's sync parameters. Readable by the service account, which runs the program, and not by
 * others: a clone URL may carry a credential.
 */
export function syncConfigFile(settings: Settings, site: SiteSettings): HostFile {
    return {
        source: "sync.conf",
        path: site.layout.syncConfig,
        mode: "0640",
        owner: "root",
        group: settings.layout.serviceUser,
        content: renderTemplate("sync.conf", syncParameters(settings, site)),
    };
}

/** What templates/sync.conf.hbs is rendered from; the tests render it with their own paths. */
export function syncParameters(settings: Settings, site: SiteSettings) {
    return {
        repository: site.repository,
        branch: site.branch,
        folder: site.folder,
        pin: site.pin ?? "",
        cloneUrl: site.cloneUrl,
        siteRoot: site.layout.root,
        stateDir: site.layout.stateDir,
        logFile: site.layout.syncLog,
        deployReport: settings.layout.deployReport,
        keepReleases: site.keepReleases,
        gzipExtensions,
        gzipMinBytes: 256,
    };
}

/**
 * Programs shipped as they are, root's, run by whoever calls them; compressed on the way, as they
 * change only with selfpages itself (their diff in a preview is a selfpages upgrade, not the user's).
 */
function programFile(source: string, hostPath: string): HostFile {
    return { source, path: hostPath, mode: "0755", owner: "root", group: "root", content: shippedProgram(fs.readFileSync(path.join(filesDir, source), "utf8")), compressed: true };
}

/**
 * A program of files/ as the host gets it: its header (the comment block at the top: what it is,
 * how it is called) and its code, without the comments inside but shellcheck's directives. Each
 * step keeps its content twice in the stack's state, once per server, and the engine writes the
 * whole state after every step: the sync program's comments were a twelfth of a five-server
 * state. The commented source is the repository's; a test checks with bash's own parser that both
 * are the same program.
 */
export function shippedProgram(source: string): string {
    const lines = source.split("\n");
    const header = lines.findIndex((line, i) => i > 0 && !line.startsWith("#"));
    const kept = lines.slice(0, header);
    // What the previous lines leave open: a quoted string (an awk program has its own comments,
    // which stay) or a here-document (text, kept as it is).
    let quote: "'" | '"' | undefined;
    let hereDocumentEnd: string | undefined;
    for (const line of lines.slice(header)) {
        if (hereDocumentEnd !== undefined) {
            kept.push(line);
            if (line.replace(/^\t+/, "") === hereDocumentEnd) hereDocumentEnd = undefined;
            continue;
        }
        // shellcheck's directives stay: the shipped program is linted as the source is.
        if (quote === undefined && /^\s*#/.test(line) && !/^\s*# shellcheck /.test(line)) continue;
        kept.push(line);
        quote = quoteOpenAfter(line, quote);
        if (quote === undefined) hereDocumentEnd = /<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?/.exec(line)?.[1];
    }
    return kept.join("\n");
}

/** The quote a line of sh leaves open, given the one open before it (a comment ends the line). */
function quoteOpenAfter(line: string, open: "'" | '"' | undefined): "'" | '"' | undefined {
    let quote = open;
    for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (quote === "'") {
            if (c === "'") quote = undefined;
        } else if (quote === '"') {
            if (c === "\\") i++;
            else if (c === '"') quote = undefined;
        } else if (c === "\\") i++;
        else if (c === "'" || c === '"') quote = c;
        else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) break;
    }
    return quote;
}

/** The reporter of deploys to GitHub (deployments and their statuses), called by the sync script. */
export function deployReportFile(settings: Settings): HostFile {
    return programFile("deploy-report.sh", settings.layout.deployReport);
}

/**
 * The reporter's parameters that sync.conf does not hold (the repository, branch, state directory
 * and log it reads there). No secret: the token is in its own file.
 */
export function deployReportConfigFile(settings: Settings, site: SiteSettings): HostFile {
    return {
        source: "deploy-report.conf",
        path: site.layout.deployReportConfig,
        mode: "0640",
        owner: "root",
        group: settings.layout.serviceUser,
        content: renderTemplate("deploy-report.conf", deployReportParameters(settings, site)),
    };
}

/** What templates/deploy-report.conf.hbs is rendered from; the tests render it with their own values. */
export function deployReportParameters(settings: Settings, site: SiteSettings) {
    return {
        apiUrl: settings.github.apiUrl,
        environment: settings.deployments.environment,
        environmentUrl: site.url,
        tokenHeaderFile: settings.layout.deploymentsTokenFile,
        // Per request: GitHub answers in well under a second; a slower one is given up on.
        connectTimeout: 5,
        maxTime: 10,
        // A deploy's in_progress waits this long (its success, if it comes first, goes with it).
        startDelay: 1,
        // In a fleet, the other servers (name=URL, space-separated): before it reports a success,
        // the sender waits for them to serve the commit, asking each every PEER_POLL seconds for
        // at most PEER_WAIT seconds in all, each request bounded by PEER_TIMEOUT (a LAN or a
        // region's network answers in milliseconds).
        peers: peerCommitUrls(settings, site)
            .map((peer) => `${peer.name}=${peer.url}`)
            .join(" "),
        peerTimeout: 1,
        peerWait: 10,
        peerPoll: 0.5,
    };
}

/** The file of a release naming the commit it holds (files/sync.sh writes it). */
export const releaseCommitFile = ".selfpages-commit";

/** Where a fleet server tells which commit it serves for a site, at its own address (nginx). */
export const commitPath = (site: Pick<SiteSettings, "name">) => `/selfpages/${site.name}/commit`;

/** The URL of a site's commit on a fleet server: plain HTTP at its address, as its hooks. */
export const commitUrlOn = (server: ServerSettings, site: Pick<SiteSettings, "name">) => `http://${urlHost(server.host.address)}${commitPath(site)}`;

/**
 * In a fleet, the servers other than the one `settings` provision, each with its URL of the site's
 * commit: the reporter counts those serving a deploy. None without a fleet.
 */
export function peerCommitUrls(settings: Settings, site: SiteSettings): { name: string; url: string }[] {
    if (!settings.fleet) return [];
    // Addresses are unique in a fleet (lib/config.ts refuses two servers at one address).
    return settings.servers.filter((server) => server.host.address !== settings.host.address).map((server) => ({ name: server.name, url: commitUrlOn(server, site) }));
}

/**
 * The deployments token as the header line curl reads with `-H @file`: readable by the service
 * account only, so that the token is on no command line.
 */
export function deploymentsTokenFileSpec(settings: Settings): HostFileSpec {
    const { layout } = settings;
    return { source: "(token header)", path: layout.deploymentsTokenFile, mode: "0600", owner: layout.serviceUser, group: layout.serviceUser };
}

export const deploymentsTokenHeader = (token: string) => `Authorization: Bearer ${token}\n`;

/**
 * `listenPort` is the sites' port: 443 on the host with TLS, 80 without; `httpPort` the plain port
 * that answers ACME challenges and redirects (80). Tests run the same config on free loopback ports.
 */
export function nginxSiteFile(settings: Settings, listenPort = settings.tls ? 443 : 80, httpPort = 80): HostFile {
    return {
        source: "nginx.conf",
        path: settings.platform.nginxSiteConfPath,
        mode: "0644",
        owner: "root",
        group: "root",
        content: renderNginxConf(nginxParameters(settings, listenPort, httpPort)),
    };
}

/** What nginx serves, site by site: each top-level site with the project sites under its name. */
export function nginxParameters(settings: Settings, listenPort: number, httpPort: number): NginxParameters {
    const served = (site: SiteSettings) => (site.folder === "" ? site.layout.currentLink : `${site.layout.currentLink}/${site.folder}`);
    const hook = (site: SiteSettings) => ({ path: site.hookPath, id: hookId(site) });
    return {
        listenPort,
        httpPort,
        http2Directive: settings.platform.nginxHttp2 === "directive",
        hstsMaxAge: settings.tls?.hstsMaxAge ?? 0,
        tls: settings.tls ? { webroot: settings.layout.acmeWebroot, ...challengeFallback(settings) } : false,
        receiverPort: settings.receiver.port,
        sites: topLevelSites(settings).map((site): NginxSite => {
            const [canonicalName, ...redirectNames] = site.serverNames;
            return {
                name: site.name,
                canonicalName,
                redirectNames,
                root: served(site),
                ...(settings.tls ? { certificate: { certificate: site.layout.tlsCertificate, key: site.layout.tlsKey } } : {}),
                hook: hook(site),
                projects: settings.sites.filter((p) => p.parent === site.name).map((p) => ({ name: p.name, path: `/${p.path}/`, root: served(p), hook: hook(p) })),
            };
        }),
        ...(settings.fleet
            ? {
                  serverHooks: {
                      address: urlHost(settings.host.address),
                      hooks: settings.sites.map((site) => ({ path: serverHookPath(settings, site), id: hookId(site) })),
                      commits: settings.sites.map((site) => ({ site: site.name, path: commitPath(site), file: `${site.layout.currentLink}/${releaseCommitFile}` })),
                  },
              }
            : {}),
    };
}

/**
 * With TLS in a fleet, the server that orders every certificate: the first one. Undefined on that
 * server itself, on the one-server form and without TLS: the server orders its own.
 */
export function certificateLead(settings: Pick<Settings, "tls" | "fleet" | "servers" | "host">): ServerSettings | undefined {
    const [lead] = settings.servers;
    if (!settings.tls || !settings.fleet || lead === undefined) return undefined;
    // Addresses with their ports are unique in a fleet (lib/config.ts).
    return lead.host.address === settings.host.address && lead.host.port === settings.host.port ? undefined : lead;
}

/** On a fleet's lead with TLS, the servers that fetch its certificates; none elsewhere. */
export function certificatePeers(settings: Pick<Settings, "tls" | "fleet" | "servers" | "host">): ServerSettings[] {
    return settings.tls && settings.fleet && !certificateLead(settings) ? settings.servers.slice(1) : [];
}

/**
 * On a peer, the CA may reach this server for a token only the lead holds: a challenge missing
 * here is asked of the lead, on its plain port, with the name the CA asked for.
 */
function challengeFallback(settings: Settings): { challengeFallback?: string } {
    const lead = certificateLead(settings);
    return lead ? { challengeFallback: `http://${urlHost(lead.host.address)}` } : {};
}

/** What the lead prints to its peers: each top-level site's certificate, which uacme keeps under its first name. */
export function certExportConfigFile(settings: Settings): HostFile {
    const { layout } = settings;
    return {
        source: "cert-export.conf",
        path: layout.certExportConfig,
        mode: "0644",
        owner: "root",
        group: "root",
        content: renderTemplate("cert-export.conf", {
            acmeDir: layout.acmeDir,
            certificates: topLevelSites(settings).flatMap((site) => (site.certificateNames ? [`${site.name}=${site.certificateNames[0]}`] : [])),
        }),
    };
}

/** The lead's export program, the forced command of the peers' keys. */
export function certExportScriptFile(settings: Settings): HostFile {
    return programFile("cert-export.sh", settings.layout.certExportScript);
}

/** The peer's pull program. */
export function certPullScriptFile(settings: Settings): HostFile {
    return programFile("cert-pull.sh", settings.layout.certPullScript);
}

/** Where a peer fetches the certificates from (the lead, over SSH) and where it installs them. */
export function certPullConfigFile(settings: Settings, lead: ServerSettings): HostFile {
    const { layout } = settings;
    return {
        source: "cert-pull.conf",
        path: layout.certPullConfig,
        mode: "0644",
        owner: "root",
        group: "root",
        content: renderTemplate("cert-pull.conf", {
            leadHost: lead.host.address,
            leadPort: lead.host.port,
            leadUser: lead.host.user,
            identity: layout.certPullKey,
            knownHosts: layout.certPullKnownHosts,
            tlsDir: layout.tlsDir,
            sites: topLevelSites(settings).filter((site) => site.certificateNames).map((site) => site.name),
            logFile: layout.certPullLog,
            reloadNginx: reloadNginxIfRunning(),
        }),
    };
}

/** The lead's host key as the peer's own known_hosts has it: pinned, as the stack pins it. */
export function certPullKnownHostsFile(settings: Settings, lead: ServerSettings): HostFile {
    const { address, port, hostKey } = lead.host;
    return {
        source: "(known_hosts)",
        path: settings.layout.certPullKnownHosts,
        mode: "0644",
        owner: "root",
        group: "root",
        content: `${port === 22 ? address : `[${address}]:${port}`} ${hostKey}\n`,
    };
}

/** The pull every 15 minutes as root: a renewal on the lead reaches the peer without a `pulumi up`. */
export function certPullJobFile(settings: Settings): HostFile {
    const { layout, platform } = settings;
    const cronD = platform.quarterHourJob.format === "cron.d";
    return {
        source: "cert-pull-job",
        path: `${platform.quarterHourJob.dir}/${layout.certPullJob}`,
        mode: cronD ? "0644" : "0755",
        owner: "root",
        group: "root",
        content: renderTemplate("cert-pull-job", { cronD, command: `${layout.certPullScript} cron`, logFile: layout.certPullLog }),
    };
}

/** The marker ending each peer's line in the lead's root authorized_keys: the lines the stack owns there. */
export const certPullKeyMarker = "selfpages-cert-pull";

/**
 * A peer's line in the lead's root authorized_keys: its key may run the export program and
 * nothing else (no shell, no forwarding, no pty), whatever it asks.
 */
export const certPullAuthorizedKey = (settings: Settings, peer: string, publicKey: string) => {
    const [type, key] = publicKey.trim().split(/\s+/);
    return `command="${settings.layout.certExportScript}",restrict ${type} ${key} ${certPullKeyMarker}:${peer}`;
};

/**
 * The receiver's hooks file. It holds the webhook secrets (the current one and, during a rotation,
 * the previous one), so it is readable by the service account only.
 */
export function hooksFileSpec(settings: Settings): HostFileSpec {
    const { layout } = settings;
    return { source: "hooks.json", path: layout.hooksFile, mode: "0600", owner: layout.serviceUser, group: layout.serviceUser };
}

/** Every site's hook, each with the secrets its deliveries may be signed with (by site name). */
export function hooksFile(settings: Settings, secrets: Record<string, string[]>): HostFile {
    const { layout } = settings;
    return {
        ...hooksFileSpec(settings),
        content: renderTemplate("hooks.json", {
            hooks: settings.sites.map((site) => ({
                id: hookId(site),
                syncScript: layout.syncScript,
                syncConfig: site.layout.syncConfig,
                stateDir: site.layout.stateDir,
                secrets: [...new Set(secrets[site.name] ?? [])],
            })),
        }),
    };
}

/**
 * The receiver's Go soft memory limit (GOMEMLIMIT), chosen from `npm run bench`'s
 * receiverRuntimeLimits: the same RSS after bursts as 8MiB, whose limit sat below the runtime's own
 * footprint at start, so that its collector ran through every start and request.
 */
export const receiverGoMemLimit = "12MiB";

export function receiverServiceFile(settings: Settings): HostFile {
    const { layout } = settings;
    return {
        source: "receiver.initd",
        path: layout.receiverInitScript,
        mode: "0755",
        owner: "root",
        group: "root",
        content: renderTemplate("receiver.initd", {
            webhookBinary,
            hooksFile: layout.hooksFile,
            receiverPort: settings.receiver.port,
            commandUser: `${layout.serviceUser}:${layout.serviceUser}`,
            stateDir: layout.stateDir,
            logDir: layout.logDir,
            receiverLog: layout.receiverLog,
            goMemLimit: receiverGoMemLimit,
        }),
    };
}

/**
 * What the receiver service step's trigger hashes (a change replaces the step: the receiver
 * restarts, and refuses deliveries for a moment): its init script (receiverServiceFile), with the memory limit written
 * as it was when the trigger was introduced (8MiB), so that a new limit alone is written to the
 * host without a restart and applies at the receiver's next start, and stacks made before keep
 * their trigger.
 */
export function receiverServiceIdentity(initScript: string): string {
    return initScript.replace(`GOMEMLIMIT=${receiverGoMemLimit}`, "GOMEMLIMIT=8MiB");
}

/**
 * The receiver service's conf.d file: its readiness wait (start_post), kept out of the service
 * definition so that changing it never restarts the receiver (components/receiver.ts).
 */
export function receiverConfDFile(settings: Settings): HostFile {
    return {
        source: "receiver.confd",
        path: settings.layout.receiverConfD,
        mode: "0644",
        owner: "root",
        group: "root",
        content: renderTemplate("receiver.confd", { receiverPort: settings.receiver.port }),
    };
}

/** The service account's whole crontab: installed with `crontab -u`, so re-runs never duplicate it. */
export function crontabFile(settings: Settings): HostFile {
    const { layout } = settings;
    return {
        source: "crontab",
        path: `crontab:${layout.serviceUser}`,
        mode: "0600",
        owner: layout.serviceUser,
        group: layout.serviceUser,
        content: renderTemplate("crontab", {
            serviceUser: layout.serviceUser,
            schedule: settings.sync.schedule,
            sites: settings.sites.map((site) => ({ name: site.name, command: syncCommand(settings, site, "cron") })),
        }),
    };
}

/** Gets, renews and installs the certificate (root: it reloads nginx); undefined when tls is off. */
export function acmeRenewScriptFile(settings: Settings): HostFile | undefined {
    return settings.tls ? programFile("acme-renew.sh", settings.layout.acmeScript) : undefined;
}

/** A site's certificate parameters for the renew program; undefined when tls is off or the site has no names. */
export function acmeConfigFile(settings: Settings, site: SiteSettings): HostFile | undefined {
    const { layout, tls } = settings;
    if (!tls || site.certificateNames === undefined) return undefined;
    return {
        source: "acme.conf",
        path: site.layout.acmeConfig,
        mode: "0644",
        owner: "root",
        group: "root",
        content: renderTemplate("acme.conf", {
            directoryUrl: tls.directoryUrl,
            acmeDir: layout.acmeDir,
            hook: acmeHook,
            names: site.certificateNames,
            contact: tls.contactEmail ?? "",
            certificate: site.layout.tlsCertificate,
            key: site.layout.tlsKey,
            logFile: layout.acmeLog,
            challengeDir: layout.acmeChallengeDir,
            reloadNginx: reloadNginxIfRunning(),
        }),
    };
}

/** How `up` and the daily job run the renew program for a site. */
export const acmeCommand = (settings: Settings, site: SiteSettings, mode: string) => `SELFPAGES_ACME_CONF=${site.layout.acmeConfig} ${settings.layout.acmeScript} ${mode}`;

/** The daily renewal of every certificate, in the run-parts directory root's stock crontab runs once a day. */
export function acmeDailyJobFile(settings: Settings): HostFile | undefined {
    const { layout } = settings;
    if (!settings.tls) return undefined;
    return {
        source: "acme-daily",
        path: `${settings.platform.dailyJobDir}/${layout.acmeDailyJob}`,
        mode: "0755",
        owner: "root",
        group: "root",
        content: renderTemplate("acme-daily", { renewals: topLevelSites(settings).map((site) => acmeCommand(settings, site, "cron")) }),
    };
}

/** Placeholder used where a secret would go when rendering without a stack (review, tests). */
export const secretPlaceholder = (name: string) => `<secret:${name}>`;

/** Every file for a stack, in the order they reach the host (the deployments ones when it reports deploys). */
export function allHostFiles(settings: Settings, webhookSecrets: Record<string, string[]>, deploymentsToken = secretPlaceholder("githubDeploymentsToken")): HostFile[] {
    const deployments = settings.deployments.enabled
        ? [{ ...deploymentsTokenFileSpec(settings), content: deploymentsTokenHeader(deploymentsToken) }, ...settings.sites.map((site) => deployReportConfigFile(settings, site)), deployReportFile(settings)]
        : [];
    const lead = certificateLead(settings);
    const ordering = [...settings.sites.map((site) => acmeConfigFile(settings, site)), acmeRenewScriptFile(settings), acmeDailyJobFile(settings)].filter((f): f is HostFile => f !== undefined);
    // A fleet's lead orders and exports; its peers pull (and order nothing).
    const sharing = certificatePeers(settings).length > 0 ? [certExportScriptFile(settings), certExportConfigFile(settings)] : [];
    const tlsFiles = lead ? [certPullScriptFile(settings), certPullConfigFile(settings, lead), certPullKnownHostsFile(settings, lead), certPullJobFile(settings)] : [...ordering, ...sharing];
    return [
        ...deployments,
        syncScriptFile(settings),
        ...settings.sites.map((site) => syncConfigFile(settings, site)),
        ...tlsFiles,
        nginxSiteFile(settings),
        hooksFile(settings, webhookSecrets),
        receiverConfDFile(settings),
        receiverServiceFile(settings),
        crontabFile(settings),
    ];
}
