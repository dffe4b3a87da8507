import type { Settings } from "./config";
import { platformFor } from "./platform";
import { SshSession } from "./ssh";

export interface PreflightReport {
    osId: string;
    osVersion: string;
    openrc: boolean;
    freeDiskMiB: number;
    problems: string[];
}

/** Below this, a shallow clone of a 600 MB site plus one release of changes does not fit. */
export const minimumFreeDiskMiB = 200;

/**
 * Checks the host before anything is changed: reachable over SSH, presenting the pinned host key,
 * running the configured OS family with OpenRC, with free disk under the site root.
 */
export async function preflight(settings: Settings, privateKey: string): Promise<PreflightReport> {
    const session = await SshSession.connect({ ...settings.host, privateKey });
    try {
        const { stdout } = await session.exec(
            [
                ". /etc/os-release",
                'echo "id=$ID"',
                'echo "version=$VERSION_ID"',
                'if command -v openrc-run >/dev/null 2>&1 || [ -x /sbin/openrc-run ]; then echo openrc=yes; else echo openrc=no; fi',
                // The site root may not exist yet: measure the nearest existing parent.
                `d=${JSON.stringify(settings.site.root)}; while [ ! -d "$d" ]; do d=$(dirname "$d"); done`,
                'echo "freeKiB=$(df -Pk "$d" | awk \'NR==2 {print $4}\')"',
            ].join("\n"),
        );
        const facts = Object.fromEntries(stdout.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
        const report: PreflightReport = {
            osId: facts.id ?? "",
            osVersion: facts.version ?? "",
            openrc: facts.openrc === "yes",
            freeDiskMiB: Math.floor(Number(facts.freeKiB ?? 0) / 1024),
            problems: [],
        };
        const expected = platformFor(settings.os).osReleaseId;
        if (report.osId !== expected) report.problems.push(`selfpages:os is ${settings.os} but the host runs '${report.osId}'`);
        if (!report.openrc && settings.os !== "alpine") report.problems.push("the host has no OpenRC (openrc-run not found)");
        if (report.freeDiskMiB < minimumFreeDiskMiB) report.problems.push(`only ${report.freeDiskMiB} MiB free under ${settings.site.root}; at least ${minimumFreeDiskMiB} MiB are needed`);
        return report;
    } finally {
        session.close();
    }
}
