/** What the bench's sections share: waiting for the site, percentiles, the sync's log and its phases. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Sandbox as SandboxEnvironment } from "../../sandbox/build";
import { hostExec } from "../../sandbox/hostInstance";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function percentile(values: number[], p: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function served(env: SandboxEnvironment, file: string): Promise<string> {
    const response = await fetch(`${env.siteUrl}${file}`, { signal: AbortSignal.timeout(5000) });
    return response.text();
}

export async function waitServed(env: SandboxEnvironment, token: string, timeoutMs: number, pollMs = 20): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
        if ((await served(env, "/version.txt").catch(() => "")) === token) return Date.now() - started;
        await sleep(pollMs);
    }
    throw new Error(`${token} not served within ${timeoutMs} ms`);
}

export const syncLog = (env: SandboxEnvironment) => fs.readFileSync(path.join(env.host.rootfs, "var/log/selfpages/sites/selfpages/sync.log"), "utf8").split("\n");

/** The parameters of the host's sync program (sync.conf, shell assignments of single-quoted values). */
export function syncConf(env: SandboxEnvironment): Record<string, string> {
    const out = hostExec(env.host.name, ". /etc/selfpages/sites/selfpages/sync.conf && printf '%s\\n' \"$SITE_ROOT\" \"$STATE_DIR\" \"$CLONE_URL\" \"$BRANCH\"").trim().split("\n");
    const [siteRoot, stateDir, cloneUrl, branch] = out;
    return { siteRoot, stateDir, cloneUrl, branch };
}

/** Milestones of one deploy, epoch ms, from a "phases" line of the sync's log (files/sync.sh). */
export type Phases = Record<string, number>;

export function phasesLines(env: SandboxEnvironment): Phases[] {
    return syncLog(env)
        .filter((line) => / sync\[[^\]]*\] phases /.test(line))
        .map((line) => Object.fromEntries(line.replace(/^.* phases /, "").split(" ").map((m) => [m.split("=")[0], Number(m.split("=")[1]) * 1000])));
}

/** Waits for the phases line of the next deploy (the sync logs it once the deploy is over). */
export async function nextPhases(env: SandboxEnvironment, seen: number, timeoutMs: number): Promise<Phases> {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
        const lines = phasesLines(env);
        if (lines.length > seen) return lines[seen];
        await sleep(10);
    }
    throw new Error(`no phases line logged within ${timeoutMs} ms`);
}

export const round1 = (n: number) => Number(n.toFixed(1));
