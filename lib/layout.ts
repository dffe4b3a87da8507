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
    hooksFile: string;
    syncScript: string;
    receiverInitScript: string;
    receiverService: string;
    serviceUser: string;
}

export function hostLayout(siteRoot: string): HostLayout {
    const logDir = `/var/log/${serviceName}`;
    return {
        siteRoot,
        currentLink: `${siteRoot}/current`,
        stateDir: `/var/lib/${serviceName}`,
        logDir,
        syncLog: `${logDir}/sync.log`,
        receiverLog: `${logDir}/receiver.log`,
        configDir: `/etc/${serviceName}`,
        hooksFile: `/etc/${serviceName}/hooks.json`,
        syncScript: `/usr/local/lib/${serviceName}/sync`,
        receiverInitScript: `/etc/init.d/${serviceName}-receiver`,
        receiverService: `${serviceName}-receiver`,
        serviceUser: serviceName,
    };
}
