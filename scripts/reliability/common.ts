import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Sandbox as SandboxEnvironment } from "../../sandbox/build";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const sign = (secret: string, body: Buffer, algorithm: "sha256" | "sha1" = "sha256") => `${algorithm}=${crypto.createHmac(algorithm, secret).update(body).digest("hex")}`;

/** How many times each value occurs, keyed by its string form. */
export function countBy<T>(values: T[], label: (value: T) => string = String): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const value of values) counts[label(value)] = (counts[label(value)] ?? 0) + 1;
    return counts;
}

/** The first line of an error that says what went wrong, short enough for a report. */
export function errorLine(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    return (message.split("\n").find((l) => /error/i.test(l)) ?? message.split("\n")[0] ?? "").trim().slice(0, 200);
}

export interface Check {
    drill: string;
    what: string;
    ok: boolean;
    /** What was seen, when it is not obvious from `what`. */
    seen?: string;
}

/**
 * What each drill asserts. A drill counts the fault it applied and the load it sent, and records a
 * failed check when either did not happen: a drill whose fault was missed proves nothing.
 */
export class Checks {
    readonly list: Check[] = [];

    expect(drill: string, what: string, ok: boolean, seen?: unknown): boolean {
        this.list.push({ drill, what, ok, ...(seen === undefined ? {} : { seen: typeof seen === "string" ? seen : JSON.stringify(seen) }) });
        if (!ok) console.error(`reliability: FAILED ${drill}: ${what}${seen === undefined ? "" : ` (seen: ${typeof seen === "string" ? seen : JSON.stringify(seen)})`}`);
        return ok;
    }

    failed(): Check[] {
        return this.list.filter((c) => !c.ok);
    }
}

export const version = async (env: SandboxEnvironment) => {
    const response = await fetch(`${env.siteUrl}/version.txt`, { signal: AbortSignal.timeout(5000) });
    return { status: response.status, text: await response.text() };
};

export async function deploysWithin(env: SandboxEnvironment, token: string, ms: number): Promise<boolean> {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(200)) if ((await version(env).catch(() => ({ text: "" }))).text === token) return true;
    return false;
}

const syncLog = (env: SandboxEnvironment) => fs.readFileSync(path.join(env.host.rootfs, "var/log/selfpages/sites/selfpages/sync.log"), "utf8").split("\n");

/** Sync runs the host's sync log shows so far (each deploy or "up to date" line is one). */
/** Syncs a delivery started: the fallback cron's runs (every 15 minutes by default) are not counted. */
export const syncRuns = (env: SandboxEnvironment) => syncLog(env).filter((l) => l.includes(" sync[webhook") && / (deployed|up to date) /.test(l)).length;

/** The error lines the sync log holds for one delivery, without their timestamps. */
export const syncErrors = (env: SandboxEnvironment, deliveryId: string) =>
    syncLog(env)
        .filter((line) => line.includes(`delivery=${deliveryId}]`) && line.includes(" error: "))
        .map((line) => line.replace(/^.*? error: /, ""))
        .join(" | ");

/** Publishes a commit whose version.txt is a fresh token; returns the commit and the token. */
export function publishToken(env: SandboxEnvironment, message: string): { sha: string; token: string } {
    const token = crypto.randomBytes(6).toString("hex");
    return { sha: env.publisher.publish({ "version.txt": token }, message), token };
}
