import type { Sandbox as SandboxEnvironment } from "../../sandbox/build";
import { probeUntilStopped } from "../../sandbox/probe";
import { countBy, sleep } from "./common";

export interface SiteProbeReport {
    probes: number;
    statuses: Record<string, number>;
    /** Probes not answered 200 (0: no answer at all). */
    failures: number;
}

/** GETs the site's home page every `intervalMs` until stop(); 0 stands for no answer. */
export function probeSite(env: SandboxEnvironment, intervalMs = 100): { stop(): Promise<SiteProbeReport> } {
    const home = async () => {
        const response = await fetch(`${env.siteUrl}/`, { signal: AbortSignal.timeout(5000) });
        await response.arrayBuffer();
        return { status: response.status };
    };
    const stop = probeUntilStopped(() => [{ label: "home", request: home }], intervalMs);
    return {
        async stop() {
            const { count, statuses, failures } = await stop();
            return { probes: count, statuses, failures: failures.length };
        },
    };
}

export interface DeliveryLoadReport {
    deliveries: number;
    answered2xx: number;
    /** Deliveries not answered 2xx: a refused signature (403), a receiver not listening (502), no answer (0). */
    refused: number;
    statuses: Record<string, number>;
    /** Which secret GitHub's stand-in signed with when it sent: the one it had before the drill, or another. */
    signedWith: Record<string, number>;
}

/**
 * A push delivery to the repository's hook every `intervalMs`, as GitHub sends it: signed with the
 * secret the hook has at that moment (the stand-in reads it when it sends), so a secret switched
 * half-way is exercised exactly as GitHub would. Deliveries overlap when the receiver is slow.
 */
export function sendDeliveries(env: SandboxEnvironment, initialSecret: string | undefined, intervalMs = 250): { stop(): Promise<DeliveryLoadReport> } {
    const sent: Array<Promise<{ status: number; signedWith: string }>> = [];
    let running = true;
    const loop = (async () => {
        while (running) {
            const hook = env.standin.hooks(env.repository)[0];
            const signedWith = hook === undefined ? "no hook" : hook.config.secret === initialSecret ? "secret before the drill" : "another secret";
            sent.push(
                env.standin
                    .sendPush(env.repository, { ref: "refs/heads/gh-pages", after: env.publisher.head() })
                    .then((records) => ({ status: records[0]?.status_code ?? -1, signedWith }))
                    .catch(() => ({ status: 0, signedWith })),
            );
            await sleep(intervalMs);
        }
    })();
    return {
        async stop() {
            running = false;
            await loop;
            // -1: the repository had no hook to deliver to; not a delivery.
            const results = (await Promise.all(sent)).filter((r) => r.status !== -1);
            const ok = results.filter((r) => r.status >= 200 && r.status < 300).length;
            return { deliveries: results.length, answered2xx: ok, refused: results.length - ok, statuses: countBy(results.map((r) => r.status)), signedWith: countBy(results.map((r) => r.signedWith)) };
        },
    };
}
