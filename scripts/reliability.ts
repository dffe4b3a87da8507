/**
 * `npm run reliability`: drills against a sandbox host, written to bench/reliability.json.
 *
 * - upgrade: release 0.1 (a git worktree of it) provisions the host, then the one-time step for
 *   its stacks and this release's `up` run over the same stack under load (site probes, signed
 *   deliveries);
 * - upgrade-sites: the last one-site release provisions a host of its own, then this release's
 *   `up` makes its stack a one-site stack, under the same load;
 * - hostile requests through nginx to the receiver, by class;
 * - faults on the provisioned host: origin unreachable, branch missing, disk nearly full, SSH cut
 *   during `up`, host restarts;
 * - invalid configs against the real engine, with the RSS of every process of those runs.
 *
 * Every drill counts the fault or load it applied and checks what must hold; the run exits 1 when
 * any check failed, a drill's fault included. `--only upgrade,upgrade-sites,hostile,faults,configs` runs a
 * subset (for development) and writes nothing.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildSandbox } from "../sandbox/build";
import { repoRoot } from "../toolchain/env";
import { Checks } from "./reliability/common";
import { invalidConfigRuns } from "./reliability/configs";
import { endOrphansSince, orphanedPlugins } from "./reliability/orphans";
import { faults } from "./reliability/faults";
import { hostileInputs } from "./reliability/hostile";
import { upgradeDrill } from "./reliability/upgrade";
import { upgradeToSitesDrill } from "./reliability/upgradeSites";

const resultsFile = path.join(repoRoot, "bench", "reliability.json");
const drills = ["upgrade", "upgrade-sites", "hostile", "faults", "configs"] as const;

function selectedDrills(argv: string[]): Set<string> {
    const at = argv.indexOf("--only");
    if (at === -1) return new Set(drills);
    const chosen = (argv[at + 1] ?? "").split(",").filter((d) => d !== "");
    const unknown = chosen.filter((d) => !(drills as readonly string[]).includes(d));
    if (chosen.length === 0 || unknown.length > 0) throw new Error(`--only takes a comma-separated list of: ${drills.join(", ")}`);
    return new Set(chosen);
}

async function main(): Promise<void> {
    const only = selectedDrills(process.argv.slice(2));
    const partial = only.size < drills.length;
    const started = Date.now();
    const checks = new Checks();
    const results: Record<string, unknown> = {
        date: new Date().toISOString(),
        // The name this machine goes by in the project's figures (its hostname is generic).
        machine: { name: process.env.SELFPAGES_MACHINE ?? os.hostname(), cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30) },
    };
    // This repository, and the previous release's worktree (upgrade.ts makes it there).
    const ours = [repoRoot, path.join(os.tmpdir(), "selfpages-prev-")];
    const orphansBefore = orphanedPlugins(ours);
    const env = await buildSandbox({ name: "reliab" });
    try {
        if (only.has("upgrade")) {
            const upgrade = await upgradeDrill(env, checks);
            results.upgrade = upgrade.report;
            results.normalUpRss = upgrade.normalUpRss;
            console.error(`upgrade done: ${checks.failed().length} failed checks so far`);
        } else {
            await env.stack.up();
        }
        if (only.has("hostile")) {
            results.hostile = await hostileInputs(env, checks);
            console.error("hostile requests done");
        }
        if (only.has("faults")) {
            results.faults = await faults(env, checks);
            console.error("faults done");
        }
        if (only.has("configs")) {
            results.configs = await invalidConfigRuns(env, checks);
            console.error("invalid configs done");
        }
        if (only.has("upgrade-sites")) {
            results.upgradeToSites = await upgradeToSitesDrill(checks);
            console.error(`upgrade to sites done: ${checks.failed().length} failed checks so far`);
        }
    } finally {
        // Destroy needs the real host back.
        await env.stack.setConfig("selfpages:hostAddress", { value: env.host.address });
        await env.stack.setConfig("selfpages:hostPort", { value: "22" });
        await env.close();
    }
    results.orphanedPluginProcessesEnded = endOrphansSince(orphansBefore, ours);
    const failed = checks.failed();
    results.seconds = Math.round((Date.now() - started) / 1000);
    results.checks = { total: checks.list.length, failed: failed.length, list: checks.list };
    const json = `${JSON.stringify(results, null, 2)}\n`;
    if (partial) {
        console.log(json);
    } else {
        fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
        fs.writeFileSync(resultsFile, json);
        console.log(`written to ${resultsFile}`);
    }
    console.log(`\n| drill | check | ok |\n|---|---|---|`);
    for (const c of checks.list) console.log(`| ${c.drill} | ${c.what} | ${c.ok ? "yes" : `NO (seen: ${c.seen ?? ""})`} |`);
    console.log(`\n${checks.list.length} checks, ${failed.length} failed, ${results.seconds} s`);
    if (failed.length > 0) process.exit(1);
}

main().catch((error: unknown) => {
    console.error(`reliability: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
});
