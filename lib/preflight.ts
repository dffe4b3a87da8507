import * as dns from "node:dns";
import { serverSettings, type ServerSettings, type Settings } from "./config";
import { hostAddressesScript, hostCheckScript, parseHostFacts, serverNameProblems, type HostFacts, type NameResolver } from "./hostChecks";
import { SshSession, sshTarget } from "./ssh";

export type PreflightReport = HostFacts;

/**
 * Resolves names as the machine running `up` does, or through the DNS server SELFPAGES_DNS_SERVER
 * names (host:port): the sandbox points it at pebble-challtestsrv, the DNS its ACME server uses.
 */
export function nameResolver(server = process.env.SELFPAGES_DNS_SERVER): NameResolver {
    if (server) {
        const resolver = new dns.promises.Resolver({ timeout: 2000, tries: 2 });
        resolver.setServers([server]);
        const quiet = (p: Promise<string[]>) => p.catch(() => [] as string[]);
        return {
            description: `DNS server ${server}`,
            resolve: async (name) => (/^[\d.]+$/.test(name) || name.includes(":") ? [name] : [...(await quiet(resolver.resolve4(name))), ...(await quiet(resolver.resolve6(name)))]),
        };
    }
    return {
        description: "this machine's resolver",
        resolve: async (name) => (await dns.promises.lookup(name, { all: true }).catch(() => [])).map((a) => a.address),
    };
}

/**
 * Checks the host before anything is changed: reachable over SSH, presenting the pinned host key,
 * passing the host checks (OS family, OpenRC, root, free disk under the site root), and, with
 * TLS, every server name resolving to the host.
 */
export async function preflight(settings: Settings, privateKey: string, resolver: NameResolver = nameResolver()): Promise<PreflightReport> {
    const session = await SshSession.connect(sshTarget(settings, privateKey));
    try {
        const { stdout } = await session.exec(hostCheckScript(settings));
        const report = parseHostFacts(stdout);
        // In a fleet the first server orders the certificates: it checks the names, once.
        if (settings.tls && (!settings.fleet || settings.host === settings.servers[0].host)) {
            const addresses = (await session.exec(hostAddressesScript)).stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "");
            report.problems.push(...(await serverNameProblems(settings, addresses, resolver)));
        }
        return report;
    } finally {
        session.close();
    }
}

/** One server's preflight: its report, or why it could not be checked (each problem a sentence). */
export interface ServerPreflight {
    server: ServerSettings;
    report?: PreflightReport;
    problems: string[];
}

/** Every server's preflight at once, in config order (`up` and `npm run preflight`). */
export async function preflightServers(settings: Settings, privateKeys: Record<string, string>, resolver: NameResolver = nameResolver()): Promise<ServerPreflight[]> {
    return Promise.all(
        settings.servers.map(async (server): Promise<ServerPreflight> => {
            try {
                const report = await preflight(serverSettings(settings, server), privateKeys[server.name], resolver);
                return { server, report, problems: report.problems };
            } catch (error) {
                return { server, problems: [(error as Error).message] };
            }
        }),
    );
}
