/**
 * Push to served on the small site, and where the time goes: each push's delivery and the
 * milestones the sync logs (files/sync.sh, "phases"), against the floor measured on the same host
 * in the same run (a bare `git fetch` of a small commit and one rename).
 */
import * as crypto from "node:crypto";
import type { Sandbox as SandboxEnvironment } from "../../sandbox/build";
import { hostExec } from "../../sandbox/hostInstance";
import { nextPhases, percentile, type Phases, phasesLines, round1, syncConf, waitServed } from "./common";

/** From one milestone to the next: the names of the spans of a deploy. */
const spans: Array<[string, string, string]> = [
    ["deliveryToSyncStart", "sent", "start"],
    ["lock", "start", "locked"],
    ["beforeFetch", "locked", "fetch"],
    ["fetch", "fetch", "fetched"],
    ["indexAndDiff", "fetched", "planned"],
    ["planAndCheckout", "planned", "checkedout"],
    ["gzip", "checkedout", "gz"],
    ["brotli", "gz", "br"],
    ["switch", "br", "switched"],
    ["switchToSeenServed", "switched", "served"],
];

const summary = (values: number[]) => ({ p50: round1(percentile(values, 50)), p95: round1(percentile(values, 95)), max: round1(Math.max(...values)) });

export async function pushToServed(env: SandboxEnvironment, pushes: number, pollMs: number) {
    const samples: number[] = [];
    const answers: number[] = [];
    const bySpan: Record<string, number[]> = Object.fromEntries(spans.map(([name]) => [name, []]));
    const afterSwitch: number[] = [];
    for (let i = 0; i < pushes; i++) {
        const seen = phasesLines(env).length;
        const token = crypto.randomBytes(6).toString("hex");
        const sha = env.publisher.publish({ "version.txt": token }, `bench ${i}`);
        const sent = Date.now();
        const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        if (delivery.status_code !== 202) throw new Error(`delivery answered ${delivery.status_code}`);
        answers.push(delivery.duration * 1000);
        await waitServed(env, token, 30_000, pollMs);
        const servedAt = Date.now();
        samples.push(servedAt - sent);
        // The sync's work after the switch (pruning, the spare copy, git maintenance) ends before
        // the next push, as it does between real pushes minutes apart.
        const phases: Phases = { ...(await nextPhases(env, seen, 30_000)), sent, served: servedAt };
        for (const [name, from, to] of spans) {
            if (phases[from] === undefined || phases[to] === undefined) throw new Error(`push ${i}: no ${from} or ${to} milestone in ${JSON.stringify(phases)}`);
            bySpan[name].push(phases[to] - phases[from]);
        }
        afterSwitch.push(phases.finished - phases.switched);
    }
    return {
        pushes,
        p50Ms: percentile(samples, 50),
        p95Ms: percentile(samples, 95),
        maxMs: Math.max(...samples),
        pollMs,
        deliveryAnswerMs: summary(answers),
        // Medians of each span add up to about p50; "sent" is the bench's clock, the others the
        // host's (the same kernel clock: the host is a set of namespaces on this machine).
        phasesMs: Object.fromEntries(Object.entries(bySpan).map(([name, values]) => [name, summary(values)])),
        afterSwitchMs: summary(afterSwitch),
        floor: floor(env, pushes),
        goalP95Under150Ms: percentile(samples, 95) <= 150,
        // The seed's webhook never deployed (nginx answered 413): only its 15-minute cron did.
        baselineSeedMeanMs: 7.5 * 60 * 1000,
    };
}

/**
 * The floor on the same host: a plain `git fetch --depth 1` of a new small commit from the same
 * origin into a bare clone, then one rename of a symlink, timed on the host itself.
 */
function floor(env: SandboxEnvironment, samples: number) {
    const { cloneUrl, branch } = syncConf(env);
    const dir = hostExec(env.host.name, "mktemp -d /tmp/bench-floor.XXXXXX").trim();
    const fetch = `git --git-dir=${dir}/repo.git fetch -q --depth 1 --no-tags '${cloneUrl}' +refs/heads/${branch}:refs/remotes/origin/${branch}`;
    try {
        hostExec(env.host.name, `git init -q --bare ${dir}/repo.git && ${fetch} && mkdir ${dir}/a ${dir}/b && ln -s a ${dir}/current`);
        const fetchMs: number[] = [];
        const renameMs: number[] = [];
        for (let i = 0; i < samples; i++) {
            env.publisher.publish({ "version.txt": crypto.randomBytes(6).toString("hex") }, `bench floor ${i}`);
            const target = i % 2 === 0 ? "b" : "a";
            const out = hostExec(env.host.name, `t0=$(date +%s%N); ${fetch}; t1=$(date +%s%N); ln -s ${target} ${dir}/current.new && mv -T ${dir}/current.new ${dir}/current; t2=$(date +%s%N); echo $t0 $t1 $t2`);
            const [t0, t1, t2] = out.trim().split(" ").map((t) => Number(BigInt(t) / 1000n) / 1000);
            fetchMs.push(t1 - t0);
            renameMs.push(t2 - t1);
        }
        const total = fetchMs.map((f, i) => f + renameMs[i]);
        return { samples, fetchMs: summary(fetchMs), renameMs: summary(renameMs), fetchAndRenameMs: summary(total) };
    } finally {
        hostExec(env.host.name, `rm -rf ${dir}`);
    }
}
