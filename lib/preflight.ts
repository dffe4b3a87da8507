import type { Settings } from "./config";
import { hostCheckScript, parseHostFacts, type HostFacts } from "./hostChecks";
import { SshSession, sshTarget } from "./ssh";

export type PreflightReport = HostFacts;

/**
 * Checks the host before anything is changed: reachable over SSH, presenting the pinned host key,
 * and passing the host checks (OS family, OpenRC, root, free disk under the site root).
 */
export async function preflight(settings: Settings, privateKey: string): Promise<PreflightReport> {
    const session = await SshSession.connect(sshTarget(settings, privateKey));
    try {
        const { stdout } = await session.exec(hostCheckScript(settings));
        return parseHostFacts(stdout);
    } finally {
        session.close();
    }
}
