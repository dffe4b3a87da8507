import type { Settings } from "./config";

/** The name of the service account, the OpenRC service and the files the stack owns. */
export const serviceName = "selfpages";

/** Where everything the stack writes lives on the host, derived from the settings. */
export interface HostLayout {
    siteRoot: string;
    /** The link nginx serves; the sync script switches it atomically. */
    currentLink: string;
    stateDir: string;
    logDir: string;
    syncLog: string;
    receiverLog: string;
    configDir: string;
    hooksFile: string;
    syncScript: string;
    /** Reports each deploy to GitHub (deployments), when the stack has the token for it. */
    deployReport: string;
    /** The deployments token as an HTTP header line for curl (-H @file); the service account's alone. */
    deploymentsTokenFile: string;
    receiverInitScript: string;
    receiverService: string;
    serviceUser: string;
}

export function hostLayout(settings: Settings): HostLayout {
    const logDir = `/var/log/${serviceName}`;
    return {
        siteRoot: settings.site.root,
        currentLink: `${settings.site.root}/current`,
        stateDir: `/var/lib/${serviceName}`,
        logDir,
        syncLog: `${logDir}/sync.log`,
        receiverLog: `${logDir}/receiver.log`,
        configDir: `/etc/${serviceName}`,
        hooksFile: `/etc/${serviceName}/hooks.json`,
        syncScript: `/usr/local/lib/${serviceName}/sync`,
        deployReport: `/usr/local/lib/${serviceName}/deploy-report`,
        deploymentsTokenFile: `/etc/${serviceName}/github-deployments.header`,
        receiverInitScript: `/etc/init.d/${serviceName}-receiver`,
        receiverService: `${serviceName}-receiver`,
        serviceUser: serviceName,
    };
}
