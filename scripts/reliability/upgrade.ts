/**
 * The upgrade drill: the previous release's program, checked out from git, provisions the sandbox
 * host; then, on the same stack (same file backend and passphrase), the one-time step for its
 * stacks (scripts/upgradeFrom01.ts) runs as the README says, and this release's `pulumi up`, while
 * the site is probed and GitHub's stand-in keeps delivering pushes.
 */
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, type EngineEvent, type OpMap } from "@pulumi/pulumi/automation";
import type { Sandbox as SandboxEnvironment } from "../../sandbox/build";
import { hostExec } from "../../sandbox/hostInstance";
import { sandboxEnv } from "../../sandbox/stack";
import { parse, stringify } from "yaml";
import { repoRoot } from "../../toolchain/env";
import { step01Type } from "../upgradeFrom01";
import { Checks, deploysWithin, errorLine, publishToken, sleep } from "./common";
import { probeSite, sendDeliveries } from "./load";
import { sampleProcessTreeRss, type RssPeak } from "./rss";

/** The previous release: the last commit on main before the move to @pulumi/command and @pulumi/random. */
export const previousRelease = "77fbeec";

const hookType = "pulumi-nodejs:dynamic/selfpages:GitHubWebhook";
const drill = "upgrade";

/** The part of an exported deployment this drill reads (the Automation API types it as any). */
interface ExportedResource {
    urn: string;
    type: string;
    inputs?: Record<string, unknown>;
}

export const nameOf = (urn: string) => urn.split("::").pop() ?? urn;

/** Whether `installed` satisfies a package.json range of the simple kinds the lockfile uses. */
function satisfies(installed: string, range: string): boolean {
    const [major, minor, patch] = installed.split(".").map(Number);
    const match = /^([\^~]?)(\d+)\.(\d+)\.(\d+)$/.exec(range.trim());
    if (!match) return false;
    const [, kind, M, m, p] = match;
    const want = [Number(M), Number(m), Number(p)];
    const atLeast = major > want[0] || (major === want[0] && (minor > want[1] || (minor === want[1] && patch >= want[2])));
    if (kind === "") return installed === `${M}.${m}.${p}`;
    if (kind === "~") return major === want[0] && minor === want[1] && atLeast;
    return major === want[0] && atLeast;
}

/**
 * A git worktree of `commit` with its npm dependencies. This repository's node_modules is linked
 * in when it satisfies every dependency of that release (the SDK pinned to the same version);
 * otherwise the release gets its own `npm ci`.
 */
function checkOut(commit: string): { dir: string; dependencies: string; remove(): void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-prev-"));
    const remove = () => {
        execFileSync("git", ["-C", repoRoot, "worktree", "remove", "--force", dir], { stdio: "ignore" });
        fs.rmSync(dir, { recursive: true, force: true });
        execFileSync("git", ["-C", repoRoot, "worktree", "prune"], { stdio: "ignore" });
    };
    execFileSync("git", ["-C", repoRoot, "worktree", "add", "--detach", dir, commit], { stdio: ["ignore", "ignore", "inherit"] });
    try {
        const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
        const unmet = Object.entries(manifest.dependencies ?? {}).filter(([name, range]) => {
            const installed = path.join(repoRoot, "node_modules", name, "package.json");
            return !fs.existsSync(installed) || !satisfies((JSON.parse(fs.readFileSync(installed, "utf8")) as { version: string }).version, range);
        });
        if (unmet.length === 0) {
            fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
            return { dir, dependencies: "this repository's node_modules, linked (it satisfies every dependency of that release)", remove };
        }
        execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
        return { dir, dependencies: `its own npm ci (${unmet.map(([n]) => n).join(", ")} differ here)`, remove };
    } catch (error) {
        remove();
        throw error;
    }
}

/**
 * The stack's config file for the previous release: only the settings it knows (its Pulumi.yaml
 * lists them), since it refuses any other ("selfpages:tls: unknown setting"). Secrets stay as they
 * are, encrypted with the stack's passphrase.
 */
function configForRelease(stackFile: string, releaseDir: string): { text: string; dropped: string[] } {
    const known = new Set(Object.keys((parse(fs.readFileSync(path.join(releaseDir, "Pulumi.yaml"), "utf8")) as { config?: Record<string, unknown> }).config ?? {}));
    const stack = parse(fs.readFileSync(stackFile, "utf8")) as { config?: Record<string, unknown> };
    const dropped = Object.keys(stack.config ?? {}).filter((key) => !known.has(key.replace(/^selfpages:/, "")));
    for (const key of dropped) delete stack.config?.[key];
    return { text: stringify(stack), dropped };
}

/** The one-time step as the README gives it, run beside the load (the probes need the event loop). */
function runOneTimeStep(env: SandboxEnvironment): Promise<{ ok: boolean; output: string }> {
    return new Promise((resolve) => {
        execFile(
            "npx",
            ["tsx", "scripts/upgradeFrom01.ts", "--stack", env.stack.name],
            { cwd: repoRoot, env: { ...process.env, ...sandboxEnv(env.stateDir) }, encoding: "utf8" },
            (error, stdout, stderr) => resolve({ ok: error === null, output: `${stdout}${stderr}` }),
        );
    });
}

interface HostFacts {
    receiverPid: string;
    receiverDefinition: string;
    crontabLines: number;
    releases: string[];
    serviceAccount: boolean;
    receiverInDefaultRunlevel: boolean;
}

/** What 0.1's delete scripts would have undone, read on the host outside SSH. */
function hostFacts(env: SandboxEnvironment): HostFacts {
    const out = hostExec(
        env.host.name,
        [
            'echo "pid=$(pidof webhook)"',
            'echo "definition=$(sha256sum /etc/init.d/selfpages-receiver | cut -c1-16)"',
            "echo \"crontab=$(crontab -u selfpages -l 2>/dev/null | grep -v '^#' | grep -c .)\"",
            "echo \"releases=$(ls /srv/selfpages/releases 2>/dev/null | tr '\\n' ' ')\"",
            'echo "account=$(id -u selfpages 2>/dev/null)"',
            'echo "enabled=$(rc-update show default | grep -c selfpages-receiver)"',
        ].join("\n"),
    );
    const facts = Object.fromEntries(out.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).trim()]));
    return {
        receiverPid: facts.pid ?? "",
        receiverDefinition: facts.definition ?? "",
        crontabLines: Number(facts.crontab ?? 0),
        releases: (facts.releases ?? "").split(" ").filter((r) => r !== ""),
        serviceAccount: (facts.account ?? "") !== "",
        receiverInDefaultRunlevel: facts.enabled === "1",
    };
}

/** The secrets the receiver's hooks file accepts (compared in memory, never printed). */
export function acceptedSecrets(env: SandboxEnvironment): string[] {
    const hooks = JSON.parse(fs.readFileSync(path.join(env.host.rootfs, "etc/selfpages/hooks.json"), "utf8")) as Array<{ "trigger-rule": { or: Array<{ match: { secret: string } }> } }>;
    return hooks.flatMap((h) => h["trigger-rule"].or.map((rule) => rule.match.secret));
}

export const changes = (summary: OpMap | undefined) => Object.entries(summary ?? {}).filter(([op, n]) => op !== "same" && (n ?? 0) > 0).length;

/** The resources of env's stack, as `pulumi stack export` has them. */
export const resourcesOf = async (env: SandboxEnvironment) => ((await env.stack.exportStack()).deployment as { resources?: ExportedResource[] }).resources ?? [];

/** The steps whose delete script undoes something on the host, by name. */
export const stepsWithDeleteScript = (resources: ExportedResource[]) => resources.filter((r) => typeof r.inputs?.delete === "string" && r.inputs.delete !== "").map((r) => nameOf(r.urn));

/**
 * Provisions env's stack with the program of `release`, from a worktree of it (removed by the
 * caller): the same backend and passphrase (sandboxEnv of the same state directory), the config
 * file with only the settings that release knows.
 */
export async function upWithRelease(env: SandboxEnvironment, release: string) {
    const previous = checkOut(release);
    try {
        const stackFile = `Pulumi.${env.stack.name}.yaml`;
        const config = configForRelease(path.join(repoRoot, stackFile), previous.dir);
        fs.writeFileSync(path.join(previous.dir, stackFile), config.text, { mode: 0o600 });
        const stack = await LocalWorkspace.selectStack({ stackName: env.stack.name, workDir: previous.dir }, { envVars: sandboxEnv(env.stateDir) });
        return { previous, settingsLeftOut: config.dropped, up: await stack.up() };
    } catch (error) {
        previous.remove();
        throw error;
    }
}

export interface Operation {
    op: string;
    type: string;
    name: string;
}

/** This release's `up` of env's stack with every resource operation recorded; a failure is its result. */
export async function recordedUp(env: SandboxEnvironment) {
    const operations: Operation[] = [];
    const onEvent = (event: EngineEvent) => {
        const m = event.resourcePreEvent?.metadata;
        if (m) operations.push({ op: m.op, type: m.type, name: nameOf(m.urn) });
    };
    const started = Date.now();
    let result = "succeeded";
    let resourceChanges: OpMap | undefined;
    try {
        resourceChanges = (await env.stack.up({ onEvent })).summary.resourceChanges;
    } catch (error) {
        result = `failed: ${errorLine(error)}`;
    }
    const operationCounts: Record<string, number> = {};
    for (const o of operations) if (o.op !== "same") operationCounts[`${o.op} ${o.type}`] = (operationCounts[`${o.op} ${o.type}`] ?? 0) + 1;
    return { result, seconds: (Date.now() - started) / 1000, resourceChanges, operations, operationCounts };
}

/** A push published and delivered once the upgrade is done: its answer, and whether it was served within 30 s. */
export async function pushAfterUpgrade(env: SandboxEnvironment, message: string) {
    const { sha, token } = publishToken(env, message);
    const [push] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
    return { deliveryStatus: push?.status_code, deployed: await deploysWithin(env, token, 30_000) };
}

/** Another `up` of env's stack; a failure is its result. */
export const secondUp = (env: SandboxEnvironment) =>
    env.stack.up().then(
        (r) => ({ result: r.summary.result as string, resourceChanges: r.summary.resourceChanges }),
        (error: unknown) => ({ result: `failed: ${errorLine(error)}`, resourceChanges: undefined }),
    );

export async function upgradeDrill(env: SandboxEnvironment, checks: Checks): Promise<{ report: Record<string, unknown>; normalUpRss: RssPeak }> {
    const started = Date.now();
    const { previous, settingsLeftOut, up: oldUp } = await upWithRelease(env, previousRelease);
    let worktreeRemoved = false;
    try {
        checks.expect(drill, "the previous release provisions the host", oldUp.summary.result === "succeeded", oldUp.summary.result);

        const before = hostFacts(env);
        const hookBefore = env.standin.hooks(env.repository)[0];
        const secretBefore = hookBefore?.config.secret;
        const oldResources = await resourcesOf(env);
        const legacySteps = oldResources.filter((r) => r.type === step01Type);
        const withDeleteScript = stepsWithDeleteScript(legacySteps);

        const site = probeSite(env);
        const deliveries = sendDeliveries(env, secretBefore);
        await sleep(1000); // the load runs before the upgrade starts

        const stepStarted = Date.now();
        const oneTime = await runOneTimeStep(env);
        const stepSeconds = (Date.now() - stepStarted) / 1000;
        const afterStep = hostFacts(env);
        const stateAfterStep = await resourcesOf(env);
        const hookUrns = (resources: ExportedResource[]) => resources.filter((r) => r.type === hookType).map((r) => r.urn);
        checks.expect(drill, "the one-time step succeeds", oneTime.ok, oneTime.ok ? undefined : oneTime.output.split("\n").filter(Boolean).slice(-3).join(" | "));
        checks.expect(drill, "after the one-time step the state holds no 0.1 step", stateAfterStep.filter((r) => r.type === step01Type).length === 0, stateAfterStep.filter((r) => r.type === step01Type).length);
        checks.expect(drill, "the one-time step moved the GitHub hook under the receiver", hookUrns(stateAfterStep).length === 1 && hookUrns(stateAfterStep)[0].includes("$selfpages:receiver:Receiver$"), { before: hookUrns(oldResources), after: hookUrns(stateAfterStep) });
        checks.expect(drill, "the one-time step did not touch the host (receiver process, crontab, releases, account)", JSON.stringify(afterStep) === JSON.stringify(before), { before, afterStep });

        const upgrade = await recordedUp(env);
        const { operations } = upgrade;
        await sleep(2000); // deliveries sent at the end of the up are answered
        const load = { site: await site.stop(), deliveries: await deliveries.stop() };
        const after = hostFacts(env);
        const hooksAfter = env.standin.hooks(env.repository);
        const secretAfter = hooksAfter[0]?.config.secret;
        const accepted = acceptedSecrets(env);

        checks.expect(drill, "this release's up after the one-time step succeeds", upgrade.result === "succeeded", upgrade.result);
        checks.expect(drill, "the site was probed during the step and the up (load happened)", load.site.probes > 0, load.site.probes);
        checks.expect(drill, "the site answered 200 to every probe", load.site.probes > 0 && load.site.failures === 0, load.site.statuses);
        checks.expect(drill, "signed deliveries were sent during the step and the up (load happened)", load.deliveries.deliveries > 0, load.deliveries.deliveries);
        checks.expect(drill, "no delivery was refused", load.deliveries.deliveries > 0 && load.deliveries.refused === 0, load.deliveries.statuses);
        // The fault: without the step, these delete scripts would run in this up.
        checks.expect(drill, "the previous release's stack had steps with delete scripts (the fault the step averts)", withDeleteScript.length > 0, withDeleteScript);
        const hostStepsTouched = operations.filter((o) => o.type === step01Type || (o.type === "command:remote:Command" && /delete|replace/.test(o.op)));
        checks.expect(drill, "the up neither ran a 0.1 step nor deleted or replaced a host step", hostStepsTouched.length === 0, hostStepsTouched);
        const hookOps = operations.filter((o) => o.type === hookType).map((o) => o.op);
        checks.expect(
            drill,
            "GitHub keeps the same single hook (updated, never replaced)",
            hooksAfter.length === 1 && hooksAfter[0].id === hookBefore?.id && hookOps.every((op) => op === "same" || op === "update"),
            { idBefore: hookBefore?.id, idsAfter: hooksAfter.map((h) => h.id), ops: hookOps },
        );
        checks.expect(drill, "the crontab still has one line", after.crontabLines === 1, after.crontabLines);
        checks.expect(drill, "every release on the host before the upgrade is still there", before.releases.length > 0 && before.releases.every((r) => after.releases.includes(r)), { before: before.releases, after: after.releases });
        checks.expect(drill, "the service account and the receiver's runlevel entry are still there", after.serviceAccount && after.receiverInDefaultRunlevel, after);
        checks.expect(
            drill,
            "the receiver kept its process unless its service definition changed",
            after.receiverPid !== "" && (after.receiverPid === before.receiverPid || after.receiverDefinition !== before.receiverDefinition),
            { pidBefore: before.receiverPid, pidAfter: after.receiverPid, definitionChanged: after.receiverDefinition !== before.receiverDefinition },
        );
        const secretChanged = secretBefore !== secretAfter;
        checks.expect(drill, "the receiver accepts exactly the secret GitHub now signs with", accepted.length === 1 && accepted[0] === secretAfter, `${accepted.length} secret(s) accepted, ${accepted.includes(secretAfter ?? "") ? "including" : "not including"} GitHub's`);
        if (secretChanged) {
            checks.expect(drill, "the secret changed through the dual-secret switch-over: deliveries signed with the previous one were answered", (load.deliveries.signedWith["secret before the drill"] ?? 0) > 0, load.deliveries.signedWith);
        }

        const push = await pushAfterUpgrade(env, "after the upgrade");
        checks.expect(drill, "a push after the upgrade is answered 202 and deployed", push.deliveryStatus === 202 && push.deployed, push);

        // A no-op up of this release, sampled: the reference for the RSS of a normal run.
        const rss = sampleProcessTreeRss();
        const second = await secondUp(env);
        const normalUpRss = rss.stop();
        checks.expect(drill, "a second up shows 0 changes", second.result === "succeeded" && changes(second.resourceChanges) === 0, second);

        previous.remove();
        worktreeRemoved = !fs.existsSync(previous.dir) && !execFileSync("git", ["-C", repoRoot, "worktree", "list"], { encoding: "utf8" }).includes(previous.dir);
        checks.expect(drill, "the previous release's worktree is removed", worktreeRemoved);

        return {
            normalUpRss,
            report: {
                previousRelease,
                previousReleaseDependencies: previous.dependencies,
                previousReleaseConfig: { settingsLeftOut },
                previousReleaseUp: { result: oldUp.summary.result, resourceChanges: oldUp.summary.resourceChanges },
                previousReleaseSteps: { total: legacySteps.length, withDeleteScript },
                oneTimeStep: { ok: oneTime.ok, seconds: stepSeconds, resourcesBefore: oldResources.length, resourcesAfter: stateAfterStep.length, hostUntouched: JSON.stringify(afterStep) === JSON.stringify(before) },
                upgradeUp: { result: upgrade.result, seconds: upgrade.seconds, resourceChanges: upgrade.resourceChanges, operations: upgrade.operationCounts },
                hook: { idBefore: hookBefore?.id, idsAfter: hooksAfter.map((h) => h.id) },
                load,
                host: { before: { ...before, releases: before.releases.length }, after: { ...after, releases: after.releases.length }, receiverPidKept: before.receiverPid === after.receiverPid },
                secret: { changed: secretChanged, acceptedAfterwards: accepted.length },
                pushAfterUpgrade: push,
                secondUp: second,
                seconds: (Date.now() - started) / 1000,
            },
        };
    } finally {
        if (!worktreeRemoved) previous.remove();
    }
}
