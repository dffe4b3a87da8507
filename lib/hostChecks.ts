import type { Settings } from "./config";
import { shellQuote } from "./templates";

/** Below this, a shallow clone of a 600 MB site plus one release of changes does not fit. */
export const minimumFreeDiskMiB = 200;

/**
 * What a host must be before anything is changed on it, decided here once and checked on the
 * host itself by one script: the preflight runs it over SSH before `up`, and the first command of
 * every `up` runs it again. It prints `fact=value` lines, one `problem=...` line per failed check
 * (also on stderr), and exits 1 when there is any.
 */
export function hostCheckScript(settings: Settings): string {
    const q = shellQuote;
    const family = settings.platform.family;
    return [
        ". /etc/os-release",
        'echo "id=$ID"',
        'echo "version=$VERSION_ID"',
        'if command -v openrc-run >/dev/null 2>&1 || [ -x /sbin/openrc-run ]; then openrc=yes; else openrc=no; fi',
        'echo "openrc=$openrc"',
        // The site root may not exist yet: measure the nearest existing parent.
        `d=${q(settings.site.root)}; while [ ! -d "$d" ]; do d=$(dirname "$d"); done`,
        "free=$(df -Pk \"$d\" | awk 'NR==2 {print $4}')",
        'echo "freeKiB=$free"',
        "problems=''",
        "problem() { echo \"problem=$1\"; echo \"selfpages: $1\" >&2; problems=yes; }",
        `[ "$ID" = ${q(settings.platform.osReleaseId)} ] || problem "selfpages:os is ${family} but the host runs '$ID'"`,
        // Alpine gets OpenRC from the package step; Debian must come with it (the openrc package replaces init).
        `[ "$openrc" = yes ] || [ ${q(family)} = alpine ] || problem "the host has no OpenRC (openrc-run not found)"`,
        '[ "$(id -u)" = 0 ] || problem "the SSH user must be root (selfpages:hostUser)"',
        `[ "$free" -ge ${minimumFreeDiskMiB * 1024} ] || problem "only $((free / 1024)) MiB free under ${settings.site.root}; at least ${minimumFreeDiskMiB} MiB are needed"`,
        '[ -z "$problems" ]',
    ].join("\n");
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
