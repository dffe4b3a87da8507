/**
 * The one probe loop of the tests and the drills: what keeps asking a site (or several servers'
 * sites) for a page while something else happens (an `up`, a server added, a fault), and counts
 * what answered.
 */

/** One request a probe makes each round, named in its failures. */
export interface ProbeTarget {
    label: string;
    /** Resolves to the answer's status; a request that fails counts as status 0 (no answer). */
    request: () => Promise<{ status: number }>;
}

export interface ProbeReport {
    /** Requests made. */
    count: number;
    /** How many answered with each status ("0": no answer). */
    statuses: Record<string, number>;
    /** "label: status" of every request not answered 200, in order. */
    failures: string[];
}

/**
 * Requests every target in turn, round after round (`pauseMs` apart), until the returned function
 * is called; it resolves to the report. The targets are asked anew each round: a caller may change
 * them while the probe runs (a server added, one removed).
 */
export function probeUntilStopped(targets: () => ProbeTarget[], pauseMs = 20): () => Promise<ProbeReport> {
    let running = true;
    const failures: string[] = [];
    const statuses: Record<string, number> = {};
    let count = 0;
    const loop = (async () => {
        while (running) {
            for (const { label, request } of targets()) {
                const { status } = await request().catch(() => ({ status: 0 }));
                count++;
                statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
                if (status !== 200) failures.push(`${label}: ${status}`);
            }
            await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
    })();
    return async () => {
        running = false;
        await loop;
        return { count, statuses, failures };
    };
}
