import * as pulumi from "@pulumi/pulumi";
import { StaticSiteServer } from "./components";
import { ConfigError } from "./lib/config";
import { runError } from "./lib/runError";
import { loadStackConfig } from "./lib/stackConfig";

export = async () => {
    let config;
    try {
        // Validated before any resource is declared: bad config fails here, having touched nothing.
        config = loadStackConfig();
    } catch (error) {
        // A RunError prints the message alone, without a JavaScript stack trace.
        throw error instanceof ConfigError ? runError(error.message) : error;
    }
    const { settings, secrets } = config;

    // Before `up` changes anything: the host answers with the pinned key, runs the configured OS,
    // and has room for the site. The one host check of an `up` (the first command on the host only
    // waits for it). A preview only reads state, so it needs no connection, nor ssh2 loaded.
    if (!pulumi.runtime.isDryRun()) {
        const { preflight } = await import("./lib/preflight");
        const report = await preflight(settings, secrets.hostPrivateKey).catch((error: Error) => {
            throw runError(`Preflight failed, nothing was changed: ${error.message}`);
        });
        if (report.problems.length > 0) throw runError(`Preflight failed, nothing was changed:\n  - ${report.problems.join("\n  - ")}`);
    }

    const server = new StaticSiteServer("selfpages", {
        settings,
        hostPrivateKey: pulumi.secret(secrets.hostPrivateKey),
        githubToken: pulumi.secret(secrets.githubToken),
        githubDeploymentsToken: secrets.githubDeploymentsToken === undefined ? undefined : pulumi.secret(secrets.githubDeploymentsToken),
    });
    // The first site's figures under the names the one-site form has always had, and every site's.
    const [first] = settings.sites;
    const { url: siteUrl, webhookUrl, hookId } = server.sites[first.name];
    return { siteUrl, webhookUrl, hookId, sites: server.sites };
};
