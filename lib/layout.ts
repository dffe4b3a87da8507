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
    syncConfig: string;
    /** Reports each deploy to GitHub (deployments), when the stack has the token for it. */
    deployReport: string;
    /** The deployments token as an HTTP header line for curl (-H @file); the service account's alone. */
    deploymentsTokenFile: string;
    receiverInitScript: string;
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
    acmeLog: string;
    /** The daily job's file name in the platform's daily run-parts directory. */
    acmeDailyJob: string;
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
        // The sync program reads it here unless told otherwise (files/sync.sh).
        syncConfig: `/etc/${serviceName}/sync.conf`,
        deployReport: `/usr/local/lib/${serviceName}/deploy-report`,
        deploymentsTokenFile: `/etc/${serviceName}/github-deployments.header`,
        receiverInitScript: `/etc/init.d/${serviceName}-receiver`,
        receiverService: `${serviceName}-receiver`,
        serviceUser: serviceName,
        tlsDir: `/etc/${serviceName}/tls`,
        tlsCertificate: `/etc/${serviceName}/tls/fullchain.pem`,
        tlsKey: `/etc/${serviceName}/tls/privkey.pem`,
        acmeDir: "/etc/ssl/uacme",
        acmeWebroot: `/var/lib/${serviceName}-acme`,
        acmeChallengeDir: `/var/lib/${serviceName}-acme/.well-known/acme-challenge`,
        acmeScript: `/usr/local/lib/${serviceName}/acme-renew`,
        acmeLog: `${logDir}/acme.log`,
        acmeDailyJob: `${serviceName}-acme`,
    };
}
