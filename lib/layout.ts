import type { Settings } from "./config";
import { shellQuote } from "./templates";

/** The name of the service account, the OpenRC service and the files the stack owns. */
export const serviceName = "selfpages";

/** Where everything the stack writes lives on the host; only the site root is configurable. */
export interface HostLayout {
    siteRoot: string;
    /** The link nginx serves; the sync script switches it atomically. */
    currentLink: string;
    stateDir: string;
    logDir: string;
    syncLog: string;
    receiverLog: string;
    configDir: string;
    /** The programs the stack ships (files/), root's. */
    libDir: string;
    hooksFile: string;
    syncScript: string;
    syncConfig: string;
    /** Reports each deploy to GitHub (deployments), when the stack has the token for it. */
    deployReport: string;
    /** The reporter's parameters beside sync.conf, whose values it reads too (files/deploy-report.sh). */
    deployReportConfig: string;
    /** The deployments token as an HTTP header line for curl (-H @file); the service account's alone. */
    deploymentsTokenFile: string;
    receiverInitScript: string;
    /** The receiver service's settings, which openrc-run reads before its definition (its readiness wait). */
    receiverConfD: string;
    receiverService: string;
    serviceUser: string;
    /** The certificate and key nginx serves (root only): a placeholder until the first issuance. */
    tlsDir: string;
    tlsCertificate: string;
    tlsKey: string;
    /** uacme's directory, its package default: the account key and the issued certificates.
     *  Left by `pulumi destroy` (see README). */
    acmeDir: string;
    /** nginx serves /.well-known/acme-challenge/ from here on port 80. */
    acmeWebroot: string;
    acmeChallengeDir: string;
    acmeScript: string;
    /** The renew program's parameters (files/acme-renew.sh). */
    acmeConfig: string;
    acmeLog: string;
    /** The daily job's file name in the platform's daily run-parts directory. */
    acmeDailyJob: string;
}

export function hostLayout(siteRoot: string): HostLayout {
    const logDir = `/var/log/${serviceName}`;
    // Directories the directories step makes (serverDirectories, tlsDirectories): the paths below derive from them.
    const configDir = `/etc/${serviceName}`;
    const libDir = `/usr/local/lib/${serviceName}`;
    const tlsDir = `${configDir}/tls`;
    const acmeWebroot = `/var/lib/${serviceName}-acme`;
    return {
        siteRoot,
        currentLink: `${siteRoot}/current`,
        stateDir: `/var/lib/${serviceName}`,
        logDir,
        syncLog: `${logDir}/sync.log`,
        receiverLog: `${logDir}/receiver.log`,
        configDir,
        libDir,
        hooksFile: `${configDir}/hooks.json`,
        syncScript: `${libDir}/sync`,
        // The sync program reads it here unless told otherwise (files/sync.sh).
        syncConfig: `${configDir}/sync.conf`,
        deployReport: `${libDir}/deploy-report`,
        deployReportConfig: `${configDir}/deploy-report.conf`,
        deploymentsTokenFile: `${configDir}/github-deployments.header`,
        receiverInitScript: `/etc/init.d/${serviceName}-receiver`,
        receiverConfD: `/etc/conf.d/${serviceName}-receiver`,
        receiverService: `${serviceName}-receiver`,
        serviceUser: serviceName,
        tlsDir,
        tlsCertificate: `${tlsDir}/fullchain.pem`,
        tlsKey: `${tlsDir}/privkey.pem`,
        acmeDir: "/etc/ssl/uacme",
        acmeWebroot,
        acmeChallengeDir: `${acmeWebroot}/.well-known/acme-challenge`,
        acmeScript: `${libDir}/acme-renew`,
        acmeConfig: `${configDir}/acme.conf`,
        acmeLog: `${logDir}/acme.log`,
        acmeDailyJob: `${serviceName}-acme`,
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
 * Every directory the stack writes to, parents first, declared once: one step creates them all
 * (components/directories.ts) before anything is written into them.
 */
export function hostDirectories(settings: Pick<Settings, "layout" | "tls">): HostDirectory[] {
    return settings.tls ? [...serverDirectories(settings.layout), ...tlsDirectories(settings.layout)] : serverDirectories(settings.layout);
}

/** The directories of the site, the services and the programs. */
export function serverDirectories(layout: HostLayout): HostDirectory[] {
    const user = layout.serviceUser;
    return [
        { path: layout.siteRoot, owner: user, group: user, mode: "0755" },
        { path: layout.stateDir, owner: user, group: user, mode: "0750" },
        { path: layout.logDir, owner: user, group: user, mode: "0750" },
        // The hooks file and the deployments token inside are the service account's alone; the directory only lets it in.
        { path: layout.configDir, owner: "root", group: user, mode: "0750" },
        { path: layout.libDir, owner: "root", group: "root", mode: "0755" },
    ];
}

/** The certificate's directories (root's): its own list, so that TLS switched off removes them. */
export function tlsDirectories(layout: HostLayout): HostDirectory[] {
    return [
        { path: layout.tlsDir, owner: "root", group: "root", mode: "0700" },
        { path: layout.acmeDir, owner: "root", group: "root", mode: "0700", keptBecause: "it holds the ACME account key and the issued certificates: a new up on this host reuses them instead of counting against the CA's rate limits; remove it to retire the account" },
        { path: layout.acmeWebroot, owner: "root", group: "root", mode: "0755" },
        { path: layout.acmeChallengeDir, owner: "root", group: "root", mode: "0755" },
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
