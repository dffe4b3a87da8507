import type { Settings } from "./config";
import { shellQuote } from "./templates";

/** Below this, a shallow clone of a 600 MB site plus one release of changes does not fit. */
export const minimumFreeDiskMiB = 200;

/**
 * What a host must be before anything is changed on it, decided here once and checked on the
 * host itself by one script, which the preflight runs over SSH, once per `up` (index.ts) and in
 * `npm run preflight`. It prints `fact=value` lines, one `problem=...` line per failed check
 * (also on stderr), and exits 1 when there is any.
 */
export function hostCheckScript(settings: Settings): string {
    const q = shellQuote;
    const { family, oldestRelease } = settings.platform;
    return [
        ". /etc/os-release",
        'echo "id=$ID"',
        'echo "version=$VERSION_ID"',
        'if command -v openrc-run >/dev/null 2>&1 || [ -x /sbin/openrc-run ]; then openrc=yes; else openrc=no; fi',
        'echo "openrc=$openrc"',
        // The site root may not exist yet: measure the nearest existing parent.
        `d=${q(settings.layout.siteRoot)}; while [ ! -d "$d" ]; do d=$(dirname "$d"); done`,
        "free=$(df -Pk \"$d\" | awk 'NR==2 {print $4}')",
        'echo "freeKiB=$free"',
        "problems=''",
        "problem() { echo \"problem=$1\"; echo \"selfpages: $1\" >&2; problems=yes; }",
        `[ "$ID" = ${q(family)} ] || problem "selfpages:os is ${family} but the host runs '$ID'"`,
        ...(oldestRelease ? [releaseCheck(family, oldestRelease)] : []),
        // Alpine gets OpenRC from the package step; Debian must come with it (the openrc package replaces init).
        `[ "$openrc" = yes ] || [ ${q(family)} = alpine ] || problem "the host has no OpenRC (openrc-run not found)"`,
        '[ "$(id -u)" = 0 ] || problem "the SSH user must be root (selfpages:hostUser)"',
        `[ "$free" -ge ${minimumFreeDiskMiB * 1024} ] || problem "only $((free / 1024)) MiB free under ${settings.layout.siteRoot}; at least ${minimumFreeDiskMiB} MiB are needed"`,
        '[ -z "$problems" ]',
    ].join("\n");
}

/** VERSION_ID's major.minor against the oldest supported (edge's is "3.21.0_alpha...": its own). */
function releaseCheck(family: string, oldest: string): string {
    const atLeast = String.raw`split(v, a, "."); split(m, b, "."); exit !(a[1] + 0 > b[1] + 0 || (a[1] + 0 == b[1] + 0 && a[2] + 0 >= b[2] + 0))`;
    return `[ "$ID" != ${shellQuote(family)} ] || awk -v v="$VERSION_ID" -v m=${shellQuote(oldest)} ${shellQuote(`BEGIN { ${atLeast} }`)} || problem "the host runs ${family} $VERSION_ID; selfpages supports ${family} ${oldest} and later"`;
}

export interface HostFacts {
    osId: string;
    osVersion: string;
    openrc: boolean;
    freeDiskMiB: number;
    problems: string[];
}

/** Reads what hostCheckScript printed. */
export function parseHostFacts(stdout: string): HostFacts {
    const lines = stdout.split("\n").filter((l) => l.includes("="));
    const fact = (name: string) => lines.find((l) => l.startsWith(`${name}=`))?.slice(name.length + 1) ?? "";
    return {
        osId: fact("id"),
        osVersion: fact("version"),
        openrc: fact("openrc") === "yes",
        freeDiskMiB: Math.floor(Number(fact("freeKiB") || 0) / 1024),
        problems: lines.filter((l) => l.startsWith("problem=")).map((l) => l.slice("problem=".length)),
    };
}

/** Prints the host's own addresses, one a line (busybox's and iproute2's `ip` both print this form). */
export const hostAddressesScript = "ip addr show 2>/dev/null | awk '$1 == \"inet\" || $1 == \"inet6\" { sub(/\\/.*/, \"\", $2); print $2 }'";

export interface NameResolver {
    /** Every address the name resolves to (empty when it does not resolve). */
    resolve(name: string): Promise<string[]>;
    /** Said in messages: which DNS answered. */
    description: string;
}

const isLoopback = (address: string) => address.startsWith("127.") || address === "::1";

/**
 * Before a certificate is asked for: each server name must resolve, and only to the host, or the
 * ACME server's validation fails (Let's Encrypt tries any address the name has). `hostAddresses`
 * are the host's interface addresses and what the SSH address resolves to (behind NAT, the public
 * address is only the latter).
 */
export async function serverNameProblems(settings: Settings, hostAddresses: string[], resolver: NameResolver): Promise<string[]> {
    if (!settings.tls) return [];
    const own = new Set(hostAddresses.filter((a) => !isLoopback(a)));
    for (const a of await resolver.resolve(settings.host.address)) own.add(a);
    // In a fleet with TLS a name may point at any of its servers: a peer hands the lead's
    // challenges on (nginx's fallback to the lead), so the CA may reach any one of them.
    if (settings.fleet) for (const server of settings.servers) for (const a of await resolver.resolve(server.host.address)) own.add(a);
    const ownList = [...own].join(", ");
    const problems: string[] = [];
    for (const name of certificateNames(settings)) {
        const addresses = await resolver.resolve(name);
        if (addresses.length === 0) {
            problems.push(`server name ${name} does not resolve (${resolver.description}); the ACME server could not validate it: point it at ${settings.fleet ? "the fleet's servers" : "the host"} (${ownList}) or set selfpages:tls to off`);
        } else if (addresses.some((a) => !own.has(a))) {
            problems.push(`server name ${name} resolves to ${addresses.join(", ")}, not only to the ${settings.fleet ? "fleet's servers" : "host"} (${ownList}) (${resolver.description}); the ACME server could not validate it: fix its DNS records or set selfpages:tls to off`);
        }
    }
    return problems;
}

/** Every name a certificate of the stack is for, each once. */
export function certificateNames(settings: Pick<Settings, "sites">): string[] {
    return settings.sites.flatMap((site) => site.certificateNames ?? []);
}
