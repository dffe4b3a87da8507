import * as fs from "node:fs";
import * as path from "node:path";
import type { Settings } from "./config";
import { serviceName } from "./layout";
import { acmeHook, webhookBinary } from "./platform";
import { renderTemplate } from "./templates";

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
}

/** The hook id in the receiver's hooks file, and so the last segment of its loopback URL. */
export const hookId = serviceName;

/** Text assets the sync script precompresses for gzip_static. */
export const gzipExtensions = ["html", "htm", "css", "js", "mjs", "json", "xml", "svg", "txt", "map", "webmanifest", "ico", "wasm"];

/** Programs shipped as they are: their parameters come from small rendered files. */
export const filesDir = path.resolve(__dirname, "..", "files");

/** The sync program, the same on every host; it reads its parameters from syncConfigFile's path. */
export function syncScriptFile(settings: Settings): HostFile {
    return { source: "sync.sh", path: settings.layout.syncScript, mode: "0755", owner: "root", group: "root", content: fs.readFileSync(path.join(filesDir, "sync.sh"), "utf8") };
}

/**
 * The sync program's parameters, at the path the program reads by default. Readable by the service
 * account, which runs the program, and not by others: a clone URL may carry a credential.
 */
export function syncConfigFile(settings: Settings): HostFile {
    const { layout } = settings;
    return {
        source: "sync.conf",
        path: layout.syncConfig,
        mode: "0640",
        owner: "root",
        group: layout.serviceUser,
        content: renderTemplate("sync.conf", syncParameters(settings)),
    };
}

/** What templates/sync.conf.hbs is rendered from; the tests render it with their own paths. */
export function syncParameters(settings: Settings) {
    const { layout } = settings;
    return {
        repository: settings.site.repository,
        branch: settings.site.branch,
        cloneUrl: settings.site.cloneUrl,
        siteRoot: layout.siteRoot,
        stateDir: layout.stateDir,
        logFile: layout.syncLog,
        deployReport: layout.deployReport,
        keepReleases: settings.site.keepReleases,
        gzipExtensions,
        gzipMinBytes: 256,
    };
}

/** The reporter of deploys to GitHub (deployments and their statuses), called by the sync script. */
export function deployReportFile(settings: Settings): HostFile {
    const { layout } = settings;
    return {
        source: "deploy-report.sh",
        path: layout.deployReport,
        mode: "0755",
        owner: "root",
        group: "root",
        content: renderTemplate("deploy-report.sh", {
            apiUrl: settings.github.apiUrl,
            repository: `${settings.github.owner}/${settings.github.repo}`,
            branch: settings.site.branch,
            environment: settings.deployments.environment,
            environmentUrl: settings.siteUrl,
            tokenHeaderFile: layout.deploymentsTokenFile,
            stateDir: layout.stateDir,
            logFile: layout.syncLog,
            // Per request: GitHub answers in well under a second; a slower one is given up on.
            connectTimeout: 5,
            maxTime: 10,
            // A deploy's in_progress waits this long (its success, if it comes first, goes with it).
            startDelay: 1,
        }),
    };
}

/**
 * The deployments token as the header line curl reads with `-H @file`: readable by the service
 * account only, so that the token is on no command line.
 */
export function deploymentsTokenFile(settings: Settings, token: string): HostFile {
    const { layout } = settings;
    return {
        source: "(token header)",
        path: layout.deploymentsTokenFile,
        mode: "0600",
        owner: layout.serviceUser,
        group: layout.serviceUser,
        content: deploymentsTokenHeader(token),
    };
}

export const deploymentsTokenHeader = (token: string) => `Authorization: Bearer ${token}\n`;

/**
 * `listenPort` is the site's port: 443 on the host with TLS, 80 without; `httpPort` the plain port
 * that answers ACME challenges and redirects (80). Tests run the same config on free loopback ports.
 */
export function nginxSiteFile(settings: Settings, listenPort = settings.tls ? 443 : 80, httpPort = 80): HostFile {
    const { layout } = settings;
    return {
        source: "nginx.conf",
        path: settings.platform.nginxSiteConfPath,
        mode: "0644",
        owner: "root",
        group: "root",
        content: renderTemplate("nginx.conf", {
            listenPort,
            httpPort,
            http2Directive: settings.platform.nginxHttp2 === "directive",
            tls: settings.tls ? { certificate: layout.tlsCertificate, key: layout.tlsKey, webroot: layout.acmeWebroot } : false,
            hstsMaxAge: settings.tls?.hstsMaxAge ?? 0,
            serverNames: settings.site.serverNames,
            currentLink: layout.currentLink,
            receiverPath: settings.receiver.path,
            receiverPort: settings.receiver.port,
            hookId,
        }),
    };
}

/**
 * The receiver's hooks file. It holds the webhook secrets (the current one and, during a rotation,
 * the previous one), so it is readable by the service account only.
 */
export function hooksFileSpec(settings: Settings): HostFileSpec {
    const { layout } = settings;
    return { source: "hooks.json", path: layout.hooksFile, mode: "0600", owner: layout.serviceUser, group: layout.serviceUser };
}

export function hooksFile(settings: Settings, secrets: string[]): HostFile {
    const { layout } = settings;
    return {
        ...hooksFileSpec(settings),
        content: renderTemplate("hooks.json", {
            hookId,
            syncScript: layout.syncScript,
            stateDir: layout.stateDir,
            secrets: [...new Set(secrets)],
        }),
    };
}

/** The receiver's Go soft memory limit (GOMEMLIMIT), chosen from `npm run bench`'s receiverRuntimeLimits. */
export const receiverGoMemLimit = "8MiB";

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
            syncScript: layout.syncScript,
        }),
    };
}

/** Gets, renews and installs the certificate (root: it reloads nginx); undefined when tls is off. */
export function acmeRenewScriptFile(settings: Settings): HostFile | undefined {
    const { layout, tls } = settings;
    if (!tls) return undefined;
    return {
        source: "acme-renew.sh",
        path: layout.acmeScript,
        mode: "0755",
        owner: "root",
        group: "root",
        content: renderTemplate("acme-renew.sh", {
            directoryUrl: tls.directoryUrl,
            acmeDir: layout.acmeDir,
            hook: acmeHook,
            firstName: tls.names[0],
            names: tls.names,
            contact: tls.contactEmail ?? "",
            certificate: layout.tlsCertificate,
            key: layout.tlsKey,
            logFile: layout.acmeLog,
            challengeDir: layout.acmeChallengeDir,
        }),
    };
}

/** The daily renewal, in the run-parts directory root's stock crontab runs once a day. */
export function acmeDailyJobFile(settings: Settings): HostFile | undefined {
    const { layout } = settings;
    if (!settings.tls) return undefined;
    return {
        source: "acme-daily",
        path: `${settings.platform.dailyJobDir}/${layout.acmeDailyJob}`,
        mode: "0755",
        owner: "root",
        group: "root",
        content: renderTemplate("acme-daily", { acmeScript: layout.acmeScript }),
    };
}

/** Placeholder used where a secret would go when rendering without a stack (review, tests). */
export const secretPlaceholder = (name: string) => `<secret:${name}>`;

/** Every file for a stack, in the order they reach the host (the deployments ones when it reports deploys). */
export function allHostFiles(settings: Settings, webhookSecrets: string[], deploymentsToken = secretPlaceholder("githubDeploymentsToken")): HostFile[] {
    const deployments = settings.deployments.enabled ? [deploymentsTokenFile(settings, deploymentsToken), deployReportFile(settings)] : [];
    const tlsFiles = [acmeRenewScriptFile(settings), acmeDailyJobFile(settings)].filter((f): f is HostFile => f !== undefined);
    return [...deployments, syncScriptFile(settings), syncConfigFile(settings), ...tlsFiles, nginxSiteFile(settings), hooksFile(settings, webhookSecrets), receiverServiceFile(settings), crontabFile(settings)];
}
