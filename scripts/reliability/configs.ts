/**
 * Invalid configs against the real engine: each bad value is set on a stack whose host is a TCP
 * sink on loopback; `pulumi up` must fail naming the key, and the sink must see no connection (a
 * valid config does connect). The RSS of every process of those runs is sampled.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import type { Sandbox as SandboxEnvironment } from "../../sandbox/build";
import { Checks } from "./common";
import { mergePeaks, sampleProcessTreeRss, type RssPeak } from "./rss";

const invalidConfigs: Array<[string, string]> = [
    ["hostAddress", "not a host!"], ["hostAddress", "999.1.1.1"], ["hostPort", "0"], ["hostPort", "70000"], ["hostUser", "Root User"],
    ["hostPrivateKey", "not a key"], ["hostKey", "AAAAC3NzaC1lZDI1NTE5"], ["hostKey", "ssh-dss AAAA"], ["os", "ubuntu"], ["siteRepository", "do-it"],
    ["siteRepository", "a/b/c"], ["siteBranch", "gh pages"], ["siteBranch", "a..b"], ["siteBranch", "/x"], ["siteCloneUrl", "github.com/x/y"],
    ["siteServerNames", "do-it.example.org"], ["siteServerNames", "[]"], ["siteServerNames", "[\"bad name\"]"], ["siteRoot", "srv/site"], ["siteRoot", "/srv/../etc"],
    ["siteRoot", "/"], ["siteKeepReleases", "1"], ["siteKeepReleases", "50"], ["receiverPort", "80"], ["receiverPath", "webhook"],
    ["receiverPath", "/web hook"], ["receiverPublicUrl", "ftp://x/webhook"], ["syncSchedule", "every 15 minutes"], ["syncSchedule", "61 * * * *"], ["syncSchedule", "*/0 * * * *"],
    ["githubApiUrl", "api.github.com"], ["webhookSecretVersion", "0"], ["siteBrnach", "main"],
];

/** Above this, a process of an invalid-config run is doing something wrong: a normal run peaks near 280 MB. */
export const rssLimitMiB = 1024;

/** A TCP listener that only counts connections: the "host" of the invalid-config runs. */
async function connectionSink(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
    let count = 0;
    const server = net.createServer((socket) => {
        count++;
        socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { port: (server.address() as net.AddressInfo).port, connections: () => count, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Puts back the sandbox's own value of a key the invalid-config run replaced. */
async function restoreKey(env: SandboxEnvironment, key: string): Promise<void> {
    const sandboxValues: Record<string, string | undefined> = {
        hostAddress: "127.0.0.1",
        hostKey: env.host.hostKey,
        hostPrivateKey: fs.readFileSync(env.host.privateKeyPath, "utf8"),
        os: "debian",
        siteRepository: env.repository,
        siteCloneUrl: env.host.originUrl,
        githubApiUrl: env.standin.apiUrl,
    };
    const value = sandboxValues[key];
    if (key === "siteServerNames") await env.stack.setConfig("selfpages:siteServerNames[0]", { value: env.host.address }, true);
    else if (value !== undefined) await env.stack.setConfig(`selfpages:${key}`, { value, secret: key === "hostPrivateKey" });
}

export async function invalidConfigRuns(env: SandboxEnvironment, checks: Checks) {
    const drill = "invalid configs";
    const sink = await connectionSink();
    const results: Array<{ key: string; value: string; rejected: boolean; namesKey: boolean; message: string; connections: number; seconds: number; peakRssMiB: number }> = [];
    const peaks: RssPeak[] = [];
    const stack = env.stack;
    const base: Record<string, string> = { hostAddress: "127.0.0.1", hostPort: String(sink.port) };
    try {
        for (const [key, value] of invalidConfigs) {
            for (const [k, v] of Object.entries(base)) await stack.setConfig(`selfpages:${k}`, { value: v });
            await stack.setConfig(`selfpages:${key}`, { value, secret: key === "hostPrivateKey" });
            const before = sink.connections();
            let message = "";
            const rss = sampleProcessTreeRss();
            const started = Date.now();
            try {
                await stack.up();
            } catch (error) {
                message = String((error as Error).message);
            }
            const peak = rss.stop();
            peaks.push(peak);
            // Our validation says `selfpages:<key>: <reason>`; the engine's own type check of
            // Pulumi.yaml (a list given as a string) says `configuration key '<key>'`. A bare
            // search for the key would match other words ("os" is in "Diagnostics").
            const line = message.split("\n").find((l) => l.includes(`selfpages:${key}:`) || l.includes(`key '${key}'`)) ?? "";
            results.push({ key, value, rejected: message !== "", namesKey: line !== "", message: line.trim().slice(0, 200), connections: sink.connections() - before, seconds: (Date.now() - started) / 1000, peakRssMiB: peak.peakMiB });
            await stack.removeConfig(`selfpages:${key}`);
            if (!["siteBrnach"].includes(key)) await restoreKey(env, key);
        }
        // Control: the same stack with a valid config does open a connection (and fails on it).
        const before = sink.connections();
        const rss = sampleProcessTreeRss();
        await stack.up().catch(() => undefined);
        const controlRss = rss.stop();
        const controlConnections = sink.connections() - before;
        const rssOfRuns = mergePeaks(peaks);
        const report = {
            configs: results.length,
            allRejected: results.every((r) => r.rejected),
            allNameTheKey: results.every((r) => r.namesKey),
            connectionsMade: results.reduce((s, r) => s + r.connections, 0),
            controlConnections,
            secondsPerRun: { max: Math.max(...results.map((r) => r.seconds)), total: Math.round(results.reduce((s, r) => s + r.seconds, 0)) },
            peakRss: { ...rssOfRuns, controlRunPeakMiB: controlRss.peakMiB },
            details: results,
        };
        checks.expect(drill, "every invalid config was tried (load happened)", results.length === invalidConfigs.length, results.length);
        checks.expect(drill, "every invalid config is rejected", report.allRejected, results.filter((r) => !r.rejected).map((r) => r.key));
        checks.expect(drill, "every rejection names the key", report.allNameTheKey, results.filter((r) => !r.namesKey).map((r) => r.key));
        checks.expect(drill, "no invalid config opens a connection to the host", report.connectionsMade === 0, report.connectionsMade);
        checks.expect(drill, "the valid control does connect (the sink counts)", controlConnections > 0, controlConnections);
        checks.expect(drill, `no process of these runs goes past ${rssLimitMiB} MiB RSS`, rssOfRuns.peakMiB > 0 && rssOfRuns.peakMiB < rssLimitMiB, `${rssOfRuns.peakMiB} MiB (${rssOfRuns.peakRole})`);
        return report;
    } finally {
        await sink.close();
    }
}
