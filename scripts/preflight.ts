/**
 * Checks a stack's host before `pulumi up` touches it: reachable, presenting the pinned host key,
 * the configured OS family with OpenRC, enough free disk, and with TLS every server name resolving
 * to the host (SELFPAGES_DNS_SERVER=host:port asks that DNS server instead of this machine's resolver).
 *   npm run preflight -- --stack prod
 * Reads the stack's config (secrets included) through the Pulumi CLI, so the usual backend login
 * or PULUMI_CONFIG_PASSPHRASE applies.
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../lib/config";
import { certificateNames } from "../lib/hostChecks";
import { nameResolver, preflightServers } from "../lib/preflight";
import { readStackConfig } from "../lib/stackConfig";
import { repoRoot, toolchainEnv } from "../toolchain/env";

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { stack: { type: "string" } } });
    if (!values.stack) {
        console.error("usage: npm run preflight -- --stack <name>");
        process.exit(2);
    }
    const { settings, secrets } = readStackConfig(values.stack, repoRoot, { ...process.env, ...toolchainEnv() });
    let failed = false;
    // Every server of the stack (one, or a fleet's), at once, as `up` checks them.
    for (const { server, report, problems } of await preflightServers(settings, secrets.serverPrivateKeys)) {
        const label = settings.fleet ? `server ${server.name} ` : "";
        if (!report) {
            console.error(`${label}host ${server.host.address}:${server.host.port}: preflight failed: ${problems.join("; ")}`);
            failed = true;
            continue;
        }
        console.log(`${label}host ${server.host.address}:${server.host.port}: host key matches the pinned one`);
        console.log(`os: ${report.osId} ${report.osVersion}, OpenRC: ${report.openrc ? "yes" : "no (installed by up on Alpine)"}, free disk: ${report.freeDiskMiB} MiB`);
        if (problems.length > 0) {
            console.error(`${label}preflight failed:\n  - ${problems.join("\n  - ")}`);
            failed = true;
        }
    }
    if (failed) process.exit(1);
    if (settings.tls) console.log(`server names ${certificateNames(settings).join(", ")}: each resolves to ${settings.fleet ? "the fleet's servers" : "the host"} (${nameResolver().description})`);
    console.log("preflight passed");
}

main().catch((error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : `preflight failed: ${(error as Error).message}`);
    process.exit(1);
});
