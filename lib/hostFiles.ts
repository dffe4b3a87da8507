import * as fs from "node:fs";
import * as path from "node:path";
import type { Settings } from "./config";
import { serviceName } from "./layout";
import { reloadIfRunning } from "./openrc";
import { acmeHook, webhookBinary } from "./platform";
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
}

/** The hook id in the receiver's hooks file, and so the last segment of its loopback URL. */
export const hookId = serviceName;

/** Text assets the sync script precompresses for gzip_static. */
export const gzipExtensions = ["html", "htm", "css", "js", "mjs", "json", "xml", "svg", "txt", "map", "webmanifest", "ico", "wasm"];

/** Programs shipped as they are: their parameters come from small rendered files. */
export const filesDir = path.join(projectRoot(), "files");

/** The sync program, the same on every host; it reads its parameters from syncConfigFile's path. */
export function syncScriptFile(settings: Settings): HostFile {
    return programFile("sync.sh", settings.layout.syncScript);
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
        folder: "",
        pin: "",
    };
}

/** Programs shipped as they are, root's, run by whoever calls them. */
function programFile(source: string, hostPath: string): HostFile {
    return { source, path: hostPath, mode: "0755", owner: "root", group: "root", content: fs.readFileSync(path.join(filesDir, source), "utf8") };
}

/** The reporter of deploys to GitHub (deployments and their statuses), called by the sync script. */
export function deployReportFile(settings: Settings): HostFile {
    return programFile("deploy-report.sh", settings.layout.deployReport);
}

/**
 * The reporter's parameters that sync.conf does not hold (the repository, branch, state directory
 * and log it reads there). No secret: the token is in its own file.
 */
export function deployReportConfigFile(settings: Settings): HostFile {
    const { layout } = settings;
    return {
        source: "deploy-report.conf",
        path: layout.deployReportConfig,
        mode: "0640",
        owner: "root",
        group: layout.serviceUser,
        content: renderTemplate("deploy-report.conf", deployReportParameters(settings)),
    };
}

/** What templates/deploy-report.conf.hbs is rendered from; the tests render it with their own values. */
export function deployReportParameters(settings: Settings) {
    return {
        apiUrl: settings.github.apiUrl,
        environment: settings.deployments.environment,
        environmentUrl: settings.siteUrl,
        tokenHeaderFile: settings.layout.deploymentsTokenFile,
        // Per request: GitHub answers in well under a second; a slower one is given up on.
        connectTimeout: 5,
        maxTime: 10,
        // A deploy's in_progress waits this long (its success, if it comes first, goes with it).
        startDelay: 1,
    };
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
            syncScript: layout.syncScript,
        }),
    };
}

/** Gets, renews and installs the certificate (root: it reloads nginx); undefined when tls is off. */
export function acmeRenewScriptFile(settings: Settings): HostFile | undefined {
    return settings.tls ? programFile("acme-renew.sh", settings.layout.acmeScript) : undefined;
}

/** The renew program's parameters; undefined when tls is off. */
export function acmeConfigFile(settings: Settings): HostFile | undefined {
    const { layout, tls } = settings;
    if (!tls) return undefined;
    return {
        source: "acme.conf",
        path: layout.acmeConfig,
        mode: "0644",
        owner: "root",
        group: "root",
        content: renderTemplate("acme.conf", {
            directoryUrl: tls.directoryUrl,
            acmeDir: layout.acmeDir,
            hook: acmeHook,
            names: tls.names,
            contact: tls.contactEmail ?? "",
            certificate: layout.tlsCertificate,
            key: layout.tlsKey,
            logFile: layout.acmeLog,
            challengeDir: layout.acmeChallengeDir,
            reloadNginx: reloadIfRunning("nginx"),
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
    const deployments = settings.deployments.enabled ? [{ ...deploymentsTokenFileSpec(settings), content: deploymentsTokenHeader(deploymentsToken) }, deployReportConfigFile(settings), deployReportFile(settings)] : [];
    const tlsFiles = [acmeConfigFile(settings), acmeRenewScriptFile(settings), acmeDailyJobFile(settings)].filter((f): f is HostFile => f !== undefined);
    return [...deployments, syncScriptFile(settings), syncConfigFile(settings), ...tlsFiles, nginxSiteFile(settings), hooksFile(settings, webhookSecrets), receiverConfDFile(settings), receiverServiceFile(settings), crontabFile(settings)];
}
