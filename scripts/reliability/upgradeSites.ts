/**
 * The upgrade drill to many sites: the last one-site release, checked out from git, provisions a
 * sandbox host of its own; then this release's `pulumi up` runs over the same stack, which becomes
 * a one-site stack (its site named selfpages), while the site is probed and GitHub's stand-in keeps
 * delivering pushes. No one-time step: the README says one `up` does it.
 */
import { buildSandbox } from "../../sandbox/build";
import { hostExec } from "../../sandbox/hostInstance";
import { type Checks, sleep } from "./common";
import { probeSite, sendDeliveries } from "./load";
import { acceptedSecrets, changes, pushAfterUpgrade, recordedUp, resourcesOf, secondUp, stepsWithDeleteScript, upWithRelease } from "./upgrade";

/** The last release that served one site per server (main before the sites list). */
export const oneSiteRelease = "19e3dd4";

const drill = "upgrade to sites";

export async function upgradeToSitesDrill(checks: Checks): Promise<Record<string, unknown>> {
    const started = Date.now();
    const env = await buildSandbox({ name: "reliab-sites" });
    let previous: { dependencies: string; remove(): void } | undefined;
    try {
        const provisioned = await upWithRelease(env, oneSiteRelease);
        previous = provisioned.previous;
        const oldUp = provisioned.up;
        checks.expect(drill, "the one-site release provisions the host", oldUp.summary.result === "succeeded", oldUp.summary.result);
        const servedBefore = hostExec(env.host.name, "readlink /srv/selfpages/current").trim();
        const hookBefore = env.standin.hooks(env.repository)[0];
        const secretBefore = hookBefore?.config.secret;
        // Steps whose delete script undoes something on the host: none may be replaced or deleted.
        const withDeleteScript = new Set(stepsWithDeleteScript(await resourcesOf(env)));

        const site = probeSite(env);
        const deliveries = sendDeliveries(env, secretBefore);
        await sleep(1000); // the load runs before the upgrade starts

        const upgrade = await recordedUp(env);
        const { operations } = upgrade;
        await sleep(2000); // deliveries sent at the end of the up are answered
        const load = { site: await site.stop(), deliveries: await deliveries.stop() };
        const hooksAfter = env.standin.hooks(env.repository);
        const secretAfter = hooksAfter[0]?.config.secret;
        const accepted = acceptedSecrets(env);
        const servedAfter = hostExec(env.host.name, "readlink /srv/selfpages/sites/selfpages/current || true").trim();
        const crontab = hostExec(env.host.name, "crontab -u selfpages -l 2>/dev/null | grep -v '^#' | grep -c . || true").trim();

        checks.expect(drill, "this release's up over the one-site stack succeeds", upgrade.result === "succeeded", upgrade.result);
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

        const push = await pushAfterUpgrade(env, "after the upgrade to sites");
        checks.expect(drill, "a push after the upgrade is answered 202 and deployed", push.deliveryStatus === 202 && push.deployed, push);
        const second = await secondUp(env);
        checks.expect(drill, "a second up shows 0 changes", second.result === "succeeded" && changes(second.resourceChanges) === 0, second);

        return {
            previousRelease: oneSiteRelease,
            previousReleaseDependencies: previous.dependencies,
            previousReleaseUp: { result: oldUp.summary.result, resourceChanges: oldUp.summary.resourceChanges },
            upgradeUp: {
                result: upgrade.result,
                seconds: upgrade.seconds,
                resourceChanges: upgrade.resourceChanges,
                operations: upgrade.operationCounts,
                oneShotStepsRunAgain: [...new Set(replaced.map((o) => o.name))],
                stepsWithDeleteScriptUndone: undone.length,
            },
            hook: { idBefore: hookBefore?.id, idsAfter: hooksAfter.map((h) => h.id), secretKept: secretAfter === secretBefore },
            served: { before: servedBefore, after: servedAfter },
            load,
            pushAfterUpgrade: push,
            secondUp: second,
            seconds: (Date.now() - started) / 1000,
        };
    } finally {
        previous?.remove();
        await env.close();
    }
}
