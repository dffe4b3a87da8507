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
            keepReleases: settings.site.keepReleases,
            gzipExtensions,
            gzipMinBytes: 256,
        }),
    };
}

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

/** The receiver's Go soft memory limit (GOMEMLIMIT), chosen from `npm run bench`'s receiverRuntimeLimits. */
export const receiverGoMemLimit = "8MiB";

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
            goMemLimit: receiverGoMemLimit,
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

/** Every file for a stack, in the order they reach the host. */
export function allHostFiles(settings: Settings, webhookSecrets: string[]): HostFile[] {
    return [syncScriptFile(settings), nginxSiteFile(settings), hooksFile(settings, webhookSecrets), receiverServiceFile(settings), crontabFile(settings)];
}
