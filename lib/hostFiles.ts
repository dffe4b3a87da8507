import type { Settings } from "./config";
import { hostLayout, serviceName } from "./layout";
import { platformFor } from "./platform";
import { renderTemplate } from "./templates";

/** A file the stack writes to the host, rendered from templates/<template>.hbs. */
export interface HostFile {
    template: string;
    path: string;
    content: string;
    mode: string;
    owner: string;
    group: string;
}

/** The hook id in the receiver's hooks file, and so the last segment of its loopback URL. */
export const hookId = serviceName;

/** Text assets the sync script precompresses for gzip_static. */
export const gzipExtensions = ["html", "htm", "css", "js", "mjs", "json", "xml", "svg", "txt", "map", "webmanifest", "ico", "wasm"];

export function syncScriptFile(settings: Settings): HostFile {
    const layout = hostLayout(settings);
    return {
        template: "sync.sh",
        path: layout.syncScript,
        mode: "0755",
        owner: "root",
        group: "root",
        content: renderTemplate("sync.sh", {
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
        }),
    };
}

/** The reporter of deploys to GitHub (deployments and their statuses), called by the sync script. */
export function deployReportFile(settings: Settings): HostFile {
    const layout = hostLayout(settings);
    return {
        template: "deploy-report.sh",
        path: layout.deployReport,
        mode: "0755",
        owner: "root",
        group: "root",
        content: renderTemplate("deploy-report.sh", {
            apiUrl: settings.github.apiUrl,
            repository: `${settings.github.owner}/${settings.github.repo}`,
            branch: settings.site.branch,
            environment: settings.deployments.environment,
            environmentUrl: settings.site.url,
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
    const layout = hostLayout(settings);
    return {
        template: "(token header)",
        path: layout.deploymentsTokenFile,
        mode: "0600",
        owner: layout.serviceUser,
        group: layout.serviceUser,
        content: deploymentsTokenHeader(token),
    };
}

export const deploymentsTokenHeader = (token: string) => `Authorization: Bearer ${token}\n`;

/** `listenPort` is 80 on the host; tests run the same config on a free loopback port. */
export function nginxSiteFile(settings: Settings, listenPort = 80): HostFile {
    const layout = hostLayout(settings);
    return {
        template: "nginx.conf",
        path: platformFor(settings.os).nginxSiteConfPath,
        mode: "0644",
        owner: "root",
        group: "root",
        content: renderTemplate("nginx.conf", {
            listenPort,
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
export function hooksFile(settings: Settings, secrets: string[]): HostFile {
    const layout = hostLayout(settings);
    return {
        template: "hooks.json",
        path: layout.hooksFile,
        mode: "0600",
        owner: layout.serviceUser,
        group: layout.serviceUser,
        content: renderTemplate("hooks.json", {
            hookId,
            syncScript: layout.syncScript,
            stateDir: layout.stateDir,
            secrets: [...new Set(secrets)],
        }),
    };
}

export function receiverServiceFile(settings: Settings): HostFile {
    const layout = hostLayout(settings);
    return {
        template: "receiver.initd",
        path: layout.receiverInitScript,
        mode: "0755",
        owner: "root",
        group: "root",
        content: renderTemplate("receiver.initd", {
            webhookBinary: platformFor(settings.os).webhookBinary,
            hooksFile: layout.hooksFile,
            receiverPort: settings.receiver.port,
            commandUser: `${layout.serviceUser}:${layout.serviceUser}`,
            stateDir: layout.stateDir,
            logDir: layout.logDir,
            receiverLog: layout.receiverLog,
        }),
    };
}

/** The service account's whole crontab: installed with `crontab -u`, so re-runs never duplicate it. */
export function crontabFile(settings: Settings): HostFile {
    const layout = hostLayout(settings);
    return {
        template: "crontab",
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

/** Placeholder used where a secret would go when rendering without a stack (review, tests). */
export const secretPlaceholder = (name: string) => `<secret:${name}>`;

/** Every file for a stack, in the order they reach the host (the deployments ones when it reports deploys). */
export function allHostFiles(settings: Settings, webhookSecrets: string[], deploymentsToken = secretPlaceholder("githubDeploymentsToken")): HostFile[] {
    const deployments = settings.deployments.enabled ? [deploymentsTokenFile(settings, deploymentsToken), deployReportFile(settings)] : [];
    return [...deployments, syncScriptFile(settings), nginxSiteFile(settings), hooksFile(settings, webhookSecrets), receiverServiceFile(settings), crontabFile(settings)];
}
