import type { Settings } from "./config";
import { shellQuote } from "./templates";

/** The name of the service account, the OpenRC service and the files the stack owns. */
export const serviceName = "selfpages";

/** Where everything the stack writes lives on the host; only the site root is configurable. */
export interface HostLayout {
    /** The configured site root: every site's files are under its sites/ directory. */
    siteRoot: string;
    sitesDir: string;
    stateDir: string;
    siteStateDirs: string;
    logDir: string;
    siteLogDirs: string;
    receiverLog: string;
    configDir: string;
    siteConfigDirs: string;
    /** The programs the stack ships (files/), root's. */
    libDir: string;
    hooksFile: string;
    syncScript: string;
    /** Reports each deploy to GitHub (deployments), when the stack has the token for it. */
    deployReport: string;
    /** The deployments token as an HTTP header line for curl (-H @file); the service account's alone. */
    deploymentsTokenFile: string;
    receiverInitScript: string;
    /** The receiver service's settings, which openrc-run reads before its definition (its readiness wait). */
    receiverConfD: string;
    receiverService: string;
    serviceUser: string;
    /** The certificates nginx serves (root only), one directory per site with names. */
    tlsDir: string;
    /** uacme's directory, its package default: the account key and the issued certificates.
     *  Left by `pulumi destroy` (see README). */
    acmeDir: string;
    /** nginx serves /.well-known/acme-challenge/ from here on port 80, for every site. */
    acmeWebroot: string;
    acmeChallengeDir: string;
    acmeScript: string;
    acmeLog: string;
    /** The daily job's file name in the platform's daily run-parts directory. */
    acmeDailyJob: string;
    /** A fleet's lead: prints its current certificates to a peer (the forced command of the peers' keys). */
    certExportScript: string;
    certExportConfig: string;
    /** A fleet's peer: fetches the lead's certificates over SSH and installs the changed ones. */
    certPullScript: string;
    certPullConfig: string;
    /** The peer's own SSH key (generated there, never leaving it) and the lead's pinned host key. */
    certPullDir: string;
    certPullKey: string;
    certPullKnownHosts: string;
    certPullLog: string;
    /** The pull job's file name (a run-parts or cron.d name: letters, digits, '-'). */
    certPullJob: string;
}

/** Where one site's files live: each under a directory of its own, named after the site. */
export interface SiteLayout {
    /** The clone, the releases and the `current` link. */
    root: string;
    /** The link nginx serves (with the site's folder); the sync program switches it atomically. */
    currentLink: string;
    stateDir: string;
    logDir: string;
    syncLog: string;
    configDir: string;
    /** The sync program's parameters for this site (it is run with --conf). */
    syncConfig: string;
    /** The deploy reporter's parameters, beside sync.conf, whose values it reads too (files/deploy-report.sh). */
    deployReportConfig: string;
    /** The renew program's parameters for this site's certificate (files/acme-renew.sh). */
    acmeConfig: string;
    tlsDir: string;
    tlsCertificate: string;
    tlsKey: string;
}

export function hostLayout(siteRoot: string): HostLayout {
    const logDir = `/var/log/${serviceName}`;
    // Directories the directories step makes (serverDirectories, tlsDirectories): the paths below derive from them.
    const configDir = `/etc/${serviceName}`;
    const stateDir = `/var/lib/${serviceName}`;
    const libDir = `/usr/local/lib/${serviceName}`;
    const acmeWebroot = `/var/lib/${serviceName}-acme`;
    return {
        siteRoot,
        sitesDir: `${siteRoot}/sites`,
        stateDir,
        siteStateDirs: `${stateDir}/sites`,
        logDir,
        siteLogDirs: `${logDir}/sites`,
        receiverLog: `${logDir}/receiver.log`,
        configDir,
        siteConfigDirs: `${configDir}/sites`,
        libDir,
        hooksFile: `${configDir}/hooks.json`,
        syncScript: `${libDir}/sync`,
        deployReport: `${libDir}/deploy-report`,
        deploymentsTokenFile: `${configDir}/github-deployments.header`,
        receiverInitScript: `/etc/init.d/${serviceName}-receiver`,
        receiverConfD: `/etc/conf.d/${serviceName}-receiver`,
        receiverService: `${serviceName}-receiver`,
        serviceUser: serviceName,
        tlsDir: `${configDir}/tls`,
        acmeDir: "/etc/ssl/uacme",
        acmeWebroot,
        acmeChallengeDir: `${acmeWebroot}/.well-known/acme-challenge`,
        acmeScript: `${libDir}/acme-renew`,
        acmeLog: `${logDir}/acme.log`,
        acmeDailyJob: `${serviceName}-acme`,
        certExportScript: `${libDir}/cert-export`,
        certExportConfig: `${configDir}/cert-export.conf`,
        certPullScript: `${libDir}/cert-pull`,
        certPullConfig: `${configDir}/cert-pull.conf`,
        certPullDir: `${configDir}/cert-pull`,
        certPullKey: `${configDir}/cert-pull/id_ed25519`,
        certPullKnownHosts: `${configDir}/cert-pull/known_hosts`,
        certPullLog: `${logDir}/cert-pull.log`,
        certPullJob: `${serviceName}-cert-pull`,
    };
}

export function siteLayout(layout: HostLayout, name: string): SiteLayout {
    const root = `${layout.sitesDir}/${name}`;
    const logDir = `${layout.siteLogDirs}/${name}`;
    const configDir = `${layout.siteConfigDirs}/${name}`;
    const tlsDir = `${layout.tlsDir}/${name}`;
    return {
        root,
        currentLink: `${root}/current`,
        stateDir: `${layout.siteStateDirs}/${name}`,
        logDir,
        syncLog: `${logDir}/sync.log`,
        configDir,
        syncConfig: `${configDir}/sync.conf`,
        deployReportConfig: `${configDir}/deploy-report.conf`,
        acmeConfig: `${configDir}/acme.conf`,
        tlsDir,
        tlsCertificate: `${tlsDir}/fullchain.pem`,
        tlsKey: `${tlsDir}/privkey.pem`,
    };
}

/** A directory the stack keeps its files in, with who may enter it. */
export interface HostDirectory {
    path: string;
    owner: string;
    group: string;
    mode: string;
    /** Why `pulumi destroy` leaves it (uacme's account key and certificates: see README). */
    keptBecause?: string;
}

/**
 * Every directory the stack writes to but the sites' own, parents first, declared once: one step
 * creates them all (components/directories.ts) before anything is written into them.
 */
export function hostDirectories(settings: Pick<Settings, "layout" | "tls">): HostDirectory[] {
    return settings.tls ? [...serverDirectories(settings.layout), ...tlsDirectories(settings.layout)] : serverDirectories(settings.layout);
}

/** The directories of the services and the programs, and those that hold the sites'. */
export function serverDirectories(layout: HostLayout): HostDirectory[] {
    const user = layout.serviceUser;
    return [
        { path: layout.siteRoot, owner: user, group: user, mode: "0755" },
        { path: layout.sitesDir, owner: user, group: user, mode: "0755" },
        { path: layout.stateDir, owner: user, group: user, mode: "0750" },
        { path: layout.siteStateDirs, owner: user, group: user, mode: "0750" },
        { path: layout.logDir, owner: user, group: user, mode: "0750" },
        { path: layout.siteLogDirs, owner: user, group: user, mode: "0750" },
        // The hooks file and the deployments token inside are the service account's alone; the directory only lets it in.
        { path: layout.configDir, owner: "root", group: user, mode: "0750" },
        { path: layout.siteConfigDirs, owner: "root", group: user, mode: "0750" },
        { path: layout.libDir, owner: "root", group: "root", mode: "0755" },
    ];
}

/** The certificates' directories (root's): their own list, so that TLS switched off removes them. */
export function tlsDirectories(layout: HostLayout): HostDirectory[] {
    return [
        { path: layout.tlsDir, owner: "root", group: "root", mode: "0700" },
        { path: layout.acmeDir, owner: "root", group: "root", mode: "0700", keptBecause: "it holds the ACME account key and the issued certificates: a new up on this host reuses them instead of counting against the CA's rate limits; remove it to retire the account" },
        { path: layout.acmeWebroot, owner: "root", group: "root", mode: "0755" },
        { path: layout.acmeChallengeDir, owner: "root", group: "root", mode: "0755" },
    ];
}

/** One site's directories, made when it is added and removed with it; its certificate's with TLS. */
export function siteDirectories(layout: HostLayout, site: SiteLayout, certificate: boolean): HostDirectory[] {
    const user = layout.serviceUser;
    return [
        { path: site.root, owner: user, group: user, mode: "0755" },
        { path: site.stateDir, owner: user, group: user, mode: "0750" },
        { path: site.logDir, owner: user, group: user, mode: "0750" },
        { path: site.configDir, owner: "root", group: user, mode: "0750" },
        ...(certificate ? [{ path: site.tlsDir, owner: "root", group: "root", mode: "0700" }] : []),
    ];
}

/** Makes the directories with their owner and mode (parents first); safe to repeat. */
export function createDirectoriesScript(directories: HostDirectory[]): string {
    return ["set -eu", ...directories.map((d) => `install -d -o ${d.owner} -g ${d.group} -m ${d.mode} ${shellQuote(d.path)}`)].join("\n");
}

/** Removes the directories and what they hold, and says which ones it leaves. */
export function removeDirectoriesScript(directories: HostDirectory[]): string {
    const removed = directories.filter((d) => d.keptBecause === undefined).map((d) => shellQuote(d.path));
    const kept = directories.filter((d) => d.keptBecause !== undefined);
    return [
        `rm -rf ${removed.join(" ")}`,
        ...kept.map((d) => `if [ -d ${shellQuote(d.path)} ]; then echo ${shellQuote(`selfpages: left ${d.path}: ${d.keptBecause}`)}; fi`),
    ].join("\n");
}
