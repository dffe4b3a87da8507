import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./lib/config";
import { startDynamicProvider } from "./lib/providers/dynamicResource";
import { runError } from "./lib/runError";
import { recordSourcePositionsOnly } from "./lib/sourcePositions";
import { loadStackConfig } from "./lib/stackConfig";

export = async () => {
    recordSourcePositionsOnly();
    let config;
    try {
        // Validated before any resource is declared: bad config fails here, having touched nothing.
        config = loadStackConfig();
    } catch (error) {
        // A RunError prints the message alone, without a JavaScript stack trace.
        throw error instanceof ConfigError ? runError(error.message) : error;
    }
    const { settings, secrets } = config;
    // The engine starts the dynamic provider's plugin now, while this process checks the hosts and
    // loads its components, rather than when the hooks register, last (see startDynamicProvider).
    // The SDK sends the registration a few I/O turns later (~5 ms); loading the components would
    // hold it back ~50 ms (synchronous requires), so this process lets it go out first.
    startDynamicProvider();
    await new Promise((resolve) => setTimeout(resolve, 10));

    // Before `up` changes anything: each host answers with the pinned key, runs the configured OS,
    // and has room for the sites. The one host check of an `up` (the first command on a host only
    // waits for it), all servers at once, started before the components load so that the hosts
    // work while this process does. A preview only reads state, so it needs no connection, nor
    // ssh2 loaded. One server: an unfit host stops the `up` here. A fleet: an unfit server fails
    // its own steps (with the reason, naming it) and the others converge.
    const checking = pulumi.runtime.isDryRun() ? undefined : import("./lib/preflight").then(({ preflightServers }) => preflightServers(settings, secrets.serverPrivateKeys));
    const { declareFleet } = await import("./components");
    const preflightFailures: Record<string, string> = {};
    if (checking) {
        const failures = (await checking).filter((checked) => checked.problems.length > 0);
        if (!settings.fleet && failures.length > 0) throw runError(`Preflight failed, nothing was changed:${failures[0].problems.length > 1 ? "\n  - " : " "}${failures[0].problems.join("\n  - ")}`);
        for (const { server, problems } of failures) {
            const reason = `server ${server.name} (${server.host.address}): preflight failed, its steps are skipped until it passes: ${problems.join("; ")}`;
            preflightFailures[server.name] = reason;
            pulumi.log.warn(reason);
        }
    }

    const fleet = declareFleet({ settings, secrets, preflightFailures });
    // The first site's figures under the names the one-site form has always had, and every site's.
    const [first] = settings.sites;
    const { url: siteUrl, webhookUrl, hookId } = fleet.sites[first.name];
    return { siteUrl, webhookUrl, hookId, sites: fleet.sites, ...(settings.fleet ? { servers: fleet.servers } : {}) };
};
