/**
 * The upgrade drill to many sites: the last one-site release, checked out from git, provisions a
 * sandbox host of its own; then this release's `pulumi up` runs over the same stack, which becomes
 * a one-site stack (its site named selfpages), while the site is probed and GitHub's stand-in keeps
 * delivering pushes. No one-time step: the README says one `up` does it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalWorkspace, type EngineEvent, type OpMap } from "@pulumi/pulumi/automation";
import { buildSandbox } from "../../sandbox/build";
import { hostExec } from "../../sandbox/hostInstance";
import { sandboxEnv } from "../../sandbox/stack";
import { repoRoot } from "../../toolchain/env";
import { Checks, deploysWithin, errorLine, publishToken, sleep } from "./common";
import { probeSite, sendDeliveries } from "./load";
import { acceptedSecrets, checkOut, configForRelease } from "./upgrade";

/** The last release that served one site per server (main before the sites list). */
export const oneSiteRelease = "19e3dd4";

const drill = "upgrade to sites";
const nameOf = (urn: string) => urn.split("::").pop() ?? urn;
const changes = (summary: OpMap | undefined) => Object.entries(summary ?? {}).filter(([op, n]) => op !== "same" && (n ?? 0) > 0).length;

export async function upgradeToSitesDrill(checks: Checks): Promise<Record<string, unknown>> {
    const started = Date.now();
    const env = await buildSandbox({ name: "reliab-sites" });
    const previous = checkOut(oneSiteRelease);
    try {
        const stackFile = `Pulumi.${env.stack.name}.yaml`;
        const previousConfig = configForRelease(path.join(repoRoot, stackFile), previous.dir);
        fs.writeFileSync(path.join(previous.dir, stackFile), previousConfig.text, { mode: 0o600 });
        const oldStack = await LocalWorkspace.selectStack({ stackName: env.stack.name, workDir: previous.dir }, { envVars: sandboxEnv(env.stateDir) });
        const oldUp = await oldStack.up();
        checks.expect(drill, "the one-site release provisions the host", oldUp.summary.result === "succeeded", oldUp.summary.result);
        const servedBefore = hostExec(env.host.name, "readlink /srv/selfpages/current").trim();
        const hookBefore = env.standin.hooks(env.repository)[0];
        const secretBefore = hookBefore?.config.secret;

        // Steps whose delete script undoes something on the host: none may be replaced or deleted.
        const exported = (await env.stack.exportStack()).deployment as { resources?: Array<{ urn: string; inputs?: Record<string, unknown> }> };
        const withDeleteScript = new Set((exported.resources ?? []).filter((r) => typeof r.inputs?.delete === "string" && r.inputs.delete !== "").map((r) => nameOf(r.urn)));

        const site = probeSite(env);
        const deliveries = sendDeliveries(env, secretBefore);
        await sleep(1000); // the load runs before the upgrade starts

        const operations: Array<{ op: string; type: string; name: string }> = [];
        const onEvent = (event: EngineEvent) => {
            const m = event.resourcePreEvent?.metadata;
            if (m) operations.push({ op: m.op, type: m.type, name: nameOf(m.urn) });
        };
        const upgradeStarted = Date.now();
        let upgradeResult = "succeeded";
        let upgradeChanges: OpMap | undefined;
        try {
            upgradeChanges = (await env.stack.up({ onEvent })).summary.resourceChanges;
        } catch (error) {
            upgradeResult = `failed: ${errorLine(error)}`;
        }
        const upgradeSeconds = (Date.now() - upgradeStarted) / 1000;
        await sleep(2000); // deliveries sent at the end of the up are answered
        const load = { site: await site.stop(), deliveries: await deliveries.stop() };
        const hooksAfter = env.standin.hooks(env.repository);
        const secretAfter = hooksAfter[0]?.config.secret;
        const accepted = acceptedSecrets(env);
        const servedAfter = hostExec(env.host.name, "readlink /srv/selfpages/sites/selfpages/current || true").trim();
        const crontab = hostExec(env.host.name, "crontab -u selfpages -l 2>/dev/null | grep -v '^#' | grep -c . || true").trim();

        checks.expect(drill, "this release's up over the one-site stack succeeds", upgradeResult === "succeeded", upgradeResult);
        checks.expect(drill, "the site was probed during the up (load happened)", load.site.probes > 0, load.site.probes);
        checks.expect(drill, "the site answered 200 to every probe", load.site.probes > 0 && load.site.failures === 0, load.site.statuses);
        checks.expect(drill, "signed deliveries were sent during the up (load happened)", load.deliveries.deliveries > 0, load.deliveries.deliveries);
        checks.expect(drill, "no delivery was refused", load.deliveries.deliveries > 0 && load.deliveries.refused === 0, load.deliveries.statuses);
        const hookOps = operations.filter((o) => o.name.endsWith("github-webhook")).map((o) => o.op);
        checks.expect(
            drill,
            "GitHub keeps the same single hook (never replaced)",
            hooksAfter.length === 1 && hooksAfter[0].id === hookBefore?.id && hookOps.every((op) => op === "same" || op === "update"),
            { idBefore: hookBefore?.id, idsAfter: hooksAfter.map((h) => h.id), ops: hookOps },
        );
        checks.expect(drill, "the secret is kept: the receiver accepts exactly the one GitHub signs with, the one from before", accepted.length === 1 && accepted[0] === secretAfter && secretAfter === secretBefore, `${accepted.length} secret(s) accepted; ${secretAfter === secretBefore ? "same" : "another"} secret`);
        checks.expect(drill, "the site is served from its own directory, sites/selfpages/", servedAfter.startsWith("/srv/selfpages/sites/selfpages/releases/") || servedAfter.startsWith("releases/"), { before: servedBefore, after: servedAfter });
        checks.expect(drill, "the crontab has one line (the one site's)", crontab === "1", crontab);
        const replaced = operations.filter((o) => /replace|delete/.test(o.op));
        const undone = replaced.filter((o) => withDeleteScript.has(o.name));
        checks.expect(drill, "the previous stack had steps with delete scripts (what the check below guards)", withDeleteScript.size > 0, withDeleteScript.size);
        checks.expect(drill, "no step with a delete script was replaced or deleted (only one-shot steps ran again)", undone.length === 0, undone);

        const { sha, token } = publishToken(env, "after the upgrade to sites");
        const [push] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        const pushDeployed = await deploysWithin(env, token, 30_000);
        checks.expect(drill, "a push after the upgrade is answered 202 and deployed", push?.status_code === 202 && pushDeployed, { status: push?.status_code, deployed: pushDeployed });
        const second = await env.stack.up().then(
            (r) => ({ result: r.summary.result as string, resourceChanges: r.summary.resourceChanges }),
            (error: unknown) => ({ result: `failed: ${errorLine(error)}`, resourceChanges: undefined }),
        );
        checks.expect(drill, "a second up shows 0 changes", second.result === "succeeded" && changes(second.resourceChanges) === 0, second);

        const operationCounts: Record<string, number> = {};
        for (const o of operations) if (o.op !== "same") operationCounts[`${o.op} ${o.type}`] = (operationCounts[`${o.op} ${o.type}`] ?? 0) + 1;
        return {
            previousRelease: oneSiteRelease,
            previousReleaseDependencies: previous.dependencies,
            previousReleaseUp: { result: oldUp.summary.result, resourceChanges: oldUp.summary.resourceChanges },
            upgradeUp: { result: upgradeResult, seconds: upgradeSeconds, resourceChanges: upgradeChanges, operations: operationCounts, oneShotStepsRunAgain: [...new Set(replaced.map((o) => o.name))], stepsWithDeleteScriptUndone: undone.length },
            hook: { idBefore: hookBefore?.id, idsAfter: hooksAfter.map((h) => h.id), secretKept: secretAfter === secretBefore },
            served: { before: servedBefore, after: servedAfter },
            load,
            pushAfterUpgrade: { deliveryStatus: push?.status_code, deployed: pushDeployed },
            secondUp: second,
            seconds: (Date.now() - started) / 1000,
        };
    } finally {
        previous.remove();
        await env.close();
    }
}
