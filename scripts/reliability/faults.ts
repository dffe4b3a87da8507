/**
 * Fault drills on the provisioned host. Each one applies its fault, checks that the fault is in
 * place (counted, not assumed), pushes or runs `up` through it, then repairs it and checks that
 * the server recovers.
 */
import { execFileSync, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as net from "node:net";
import type { EngineEvent, OpMap } from "@pulumi/pulumi/automation";
import type { Sandbox as SandboxEnvironment } from "../../sandbox/build";
import { hostExec, hostRestart, originDaemon } from "../../sandbox/hostInstance";
import { Checks, countBy, deploysWithin, errorLine, publishToken, sleep, syncErrors, version } from "./common";
import { probeSite } from "./load";

/** Whether a TCP connection to address:port is refused (nothing listens there). */
function refused(address: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ host: address, port, timeout: 3000 });
        socket.on("connect", () => {
            socket.destroy();
            resolve(false);
        });
        socket.on("timeout", () => {
            socket.destroy();
            resolve(false);
        });
        socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
    });
}

async function refusedWithin(address: string, port: number, ms: number): Promise<boolean> {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await refused(address, port)) return true;
    return false;
}

/** A push while something is wrong: the previous release must stay served, and deploys resume after. */
async function pushDuringFault(env: SandboxEnvironment, breakIt: () => Promise<boolean> | boolean, repairIt: () => void) {
    const before = await version(env);
    const { sha, token } = publishToken(env, "during a fault");
    const faultInPlace = await breakIt();
    try {
        const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        await sleep(4000);
        const during = await version(env);
        const syncLog = syncErrors(env, delivery.guid);
        repairIt();
        await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        return { faultInPlace, deliveryStatus: delivery.status_code, servedDuringFault: during.status, previousReleaseKept: during.text === before.text, syncLog, deployedAfterRepair: await deploysWithin(env, token, 30_000) };
    } catch (error) {
        repairIt();
        throw error;
    }
}

type PushReport = Awaited<ReturnType<typeof pushDuringFault>>;

function checkPushDuringFault(checks: Checks, drill: string, report: PushReport, fault: string, logSays: RegExp): void {
    checks.expect(drill, `the fault was in place (${fault})`, report.faultInPlace);
    checks.expect(drill, "the delivery during the fault was answered 202", report.deliveryStatus === 202, report.deliveryStatus);
    checks.expect(drill, "the previous release stayed served (200, same content)", report.servedDuringFault === 200 && report.previousReleaseKept, { status: report.servedDuringFault, kept: report.previousReleaseKept });
    checks.expect(drill, `the sync failed on the fault and logged it (${logSays.source})`, logSays.test(report.syncLog), report.syncLog);
    checks.expect(drill, "once repaired, the next delivery deploys", report.deployedAfterRepair);
}

/**
 * A TCP listener on the host's SSH address, inside its network namespace, that counts the
 * connections it is offered and closes each at once: every dial of the command provider fails
 * its SSH handshake right away, and is counted.
 */
async function sshSink(env: SandboxEnvironment): Promise<{ stop(): Promise<number> }> {
    const script = [
        'const net = require("node:net");',
        "let connections = 0;",
        "const server = net.createServer((socket) => { connections++; socket.destroy(); });",
        'server.listen(22, process.argv[1], () => process.stdout.write("listening\\n"));',
        'process.on("SIGTERM", () => { process.stdout.write(`connections=${connections}\\n`); process.exit(0); });',
    ].join("\n");
    const child = spawn("ip", ["netns", "exec", env.host.netns, process.execPath, "-e", script, env.host.address], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    for (let i = 0; i < 100 && !out.includes("listening"); i++) await sleep(50);
    if (!out.includes("listening")) {
        child.kill("SIGKILL");
        throw new Error("the SSH sink did not start listening");
    }
    return {
        async stop() {
            child.kill("SIGTERM");
            await exited;
            return Number(/connections=(\d+)/.exec(out)?.[1] ?? 0);
        },
    };
}

async function sshAnswers(address: string, ms: number): Promise<boolean> {
    const banner = () =>
        new Promise<boolean>((resolve) => {
            const socket = net.connect({ host: address, port: 22, timeout: 2000 });
            socket.once("data", (data: Buffer) => {
                socket.destroy();
                resolve(data.toString().startsWith("SSH-"));
            });
            socket.on("timeout", () => {
                socket.destroy();
                resolve(false);
            });
            socket.on("error", () => resolve(false));
        });
    for (const end = Date.now() + ms; Date.now() < end; await sleep(200)) if (await banner()) return true;
    return false;
}

const changes = (summary: OpMap | undefined) => Object.entries(summary ?? {}).filter(([op, n]) => op !== "same" && (n ?? 0) > 0).length;

/**
 * SSH cut during `up`. The cut starts when the engine reports the first command step that changes
 * something (the preflight is over, steps are running, and more depend on that one): every sshd
 * process of the host is killed (the step in flight loses its session) and a sink takes port 22,
 * so every later dial fails its handshake. It holds until `up` has returned: the first `up` must
 * fail, by the session it lost or once the command provider's dial retries give up
 * (dialErrorLimit 30 in components/connection.ts). Then sshd is started again and a second `up`
 * must finish the work.
 */
async function sshCutDuringUp(env: SandboxEnvironment, checks: Checks) {
    const drill = "SSH cut during up";
    // Changes that need several dependent steps: the sync script, a fresh deploy, the crontab.
    await env.stack.setConfig("selfpages:siteKeepReleases", { value: "4" });
    await env.stack.setConfig("selfpages:syncSchedule", { value: "*/10 * * * *" });

    let cut: Promise<{ sshdKilled: number; sessionsKilled: number; sink: { stop(): Promise<number> } }> | undefined;
    let cutAt = "";
    const cutNow = async () => {
        // Everything sshd runs (listener, sessions, pre-auth children), killed in one go.
        const killed = hostExec(env.host.name, "ps -eo args= | grep '^sshd:' || true; pkill -e -KILL -x sshd || true");
        const lines = killed.split("\n");
        const sink = await sshSink(env);
        return {
            sshdKilled: lines.filter((l) => /killed/.test(l)).length,
            sessionsKilled: lines.filter((l) => /^sshd: /.test(l) && !/\[listener\]|\/usr\/sbin\/sshd/.test(l)).length,
            sink,
        };
    };
    const onEvent = (event: EngineEvent) => {
        const m = event.resourcePreEvent?.metadata;
        if (cut === undefined && m && m.type === "command:remote:Command" && !["same", "read", "refresh"].includes(m.op)) {
            cutAt = `${m.op} ${m.urn.split("::").pop()}`;
            cut = cutNow();
        }
    };
    const site = probeSite(env, 250);
    const started = Date.now();
    let firstUp = "succeeded";
    try {
        await env.stack.up({ onEvent });
    } catch (error) {
        firstUp = `failed: ${errorLine(error)}`;
    }
    const firstUpSeconds = (Date.now() - started) / 1000;
    let sinkConnections = 0;
    let applied = { sshdKilled: 0, sessionsKilled: 0 };
    if (cut !== undefined) {
        const c = await cut;
        sinkConnections = await c.sink.stop();
        applied = { sshdKilled: c.sshdKilled, sessionsKilled: c.sessionsKilled };
    }
    hostExec(env.host.name, "pgrep -x sshd >/dev/null || /usr/sbin/sshd");
    const sshBack = await sshAnswers(env.host.address, 10_000);
    const siteDuringCut = await site.stop();

    const second = await env.stack.up().then(
        (r) => ({ result: r.summary.result as string, resourceChanges: r.summary.resourceChanges }),
        (error: unknown) => ({ result: `failed: ${errorLine(error)}`, resourceChanges: undefined }),
    );
    const preview = await env.stack.preview();
    const crontab = hostExec(env.host.name, "crontab -u selfpages -l | grep -v '^#'").trim();

    checks.expect(drill, "the cut was applied while up ran steps", cut !== undefined, cutAt || "no changing command step was reported");
    checks.expect(drill, "the cut met SSH traffic of up (sessions killed or dials refused by the sink)", applied.sessionsKilled + sinkConnections > 0, { ...applied, dialsRefused: sinkConnections });
    checks.expect(drill, "the first up failed", firstUp.startsWith("failed"), firstUp);
    checks.expect(drill, "sshd answers again once restored", sshBack);
    checks.expect(drill, "the site was probed during the cut (load happened)", siteDuringCut.probes > 0, siteDuringCut.probes);
    checks.expect(drill, "the site answered 200 throughout the cut", siteDuringCut.probes > 0 && siteDuringCut.failures === 0, siteDuringCut.statuses);
    checks.expect(drill, "a second up succeeds", second.result === "succeeded", second.result);
    checks.expect(drill, "preview afterwards shows 0 changes", changes(preview.changeSummary) === 0, preview.changeSummary);
    checks.expect(drill, "the crontab has one line, with the new schedule", crontab.split("\n").length === 1 && crontab.startsWith("*/10 "), crontab);
    return {
        cutWhen: cutAt,
        sshdProcessesKilled: applied.sshdKilled,
        sessionsKilled: applied.sessionsKilled,
        dialsRefusedBySink: sinkConnections,
        firstUp,
        firstUpSeconds,
        siteDuringCut,
        secondUp: second,
        previewChangesAfter: changes(preview.changeSummary),
        crontab,
    };
}

/**
 * Restarts per run: after a restart the first delivery was once answered 502 (OpenRC called the
 * receiver started before it listened), now and then; one restart that passes proves little.
 */
const restarts = 5;

/** One host restart: all services stopped, every process killed, the default runlevel started. */
async function restartOnce(env: SandboxEnvironment) {
    const pids = () =>
        hostExec(env.host.name, "for p in nginx webhook cron sshd; do echo \"$p=$(pgrep -o -x $p)\"; done")
            .trim()
            .split("\n")
            .map((l) => l.split("="));
    const before = Object.fromEntries(pids());
    hostRestart(env.host.name);
    const after = Object.fromEntries(pids());
    const restarted = Object.keys(before).filter((p) => before[p] !== "" && after[p] !== "" && before[p] !== after[p]);
    // At once, as GitHub would deliver a push that came during the boot.
    const { sha, token } = publishToken(env, "after a restart");
    const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
    return {
        processesReplaced: restarted,
        services: hostExec(env.host.name, "rc-status default | grep -E 'nginx|selfpages|cron|ssh'").trim().split("\n").map((l) => l.replace(/\s+/g, " ").trim()),
        siteStatus: (await version(env)).status,
        deliveryStatus: delivery.status_code,
        deployed: await deploysWithin(env, token, 30_000),
    };
}

/** Host restarts, each followed at once by a push. */
export async function hostRestartDrill(env: SandboxEnvironment, checks: Checks) {
    const drill = "host restart";
    const runs: Array<Awaited<ReturnType<typeof restartOnce>>> = [];
    for (let i = 0; i < restarts; i++) runs.push(await restartOnce(env));
    const allStarted = (r: (typeof runs)[number]) => r.services.length === 4 && r.services.every((s) => /started/.test(s));
    const served = (r: (typeof runs)[number]) => r.siteStatus === 200 && r.deliveryStatus === 202 && r.deployed;
    checks.expect(drill, `each of ${restarts} restarts replaced every service process (nginx, webhook, cron, sshd)`, runs.every((r) => r.processesReplaced.length === 4), runs.map((r) => r.processesReplaced));
    checks.expect(drill, "OpenRC started nginx, the receiver, cron and ssh after each restart", runs.every(allStarted), runs.filter((r) => !allStarted(r)).map((r) => r.services));
    checks.expect(drill, "after each restart the site answers 200 and the first push is answered 202 and deployed", runs.every(served), runs.filter((r) => !served(r)));
    return {
        restarts,
        processesReplaced: runs.map((r) => r.processesReplaced.length),
        siteStatuses: countBy(runs.map((r) => r.siteStatus)),
        firstDeliveryStatuses: countBy(runs.map((r) => r.deliveryStatus)),
        deployed: runs.filter((r) => r.deployed).length,
        services: runs[runs.length - 1]?.services,
    };
}

export async function faults(env: SandboxEnvironment, checks: Checks) {
    const report: Record<string, unknown> = {};

    const originUnreachable = await pushDuringFault(
        env,
        async () => {
            originDaemon(env.host.name, "stop");
            return refusedWithin(env.host.gatewayAddress, 9418, 3000);
        },
        () => originDaemon(env.host.name, "start"),
    );
    checkPushDuringFault(checks, "origin unreachable", originUnreachable, "the git daemon refuses connections", /unable to connect|Connection refused/);
    report.originUnreachable = originUnreachable;

    const git = (...args: string[]) => execFileSync("git", ["--git-dir", env.host.originPath, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    let saved = "";
    const badRef = await pushDuringFault(
        env,
        () => {
            saved = git("rev-parse", "refs/heads/gh-pages");
            git("update-ref", "-d", "refs/heads/gh-pages");
            return git("for-each-ref", "refs/heads/gh-pages") === "";
        },
        () => git("update-ref", "refs/heads/gh-pages", saved),
    );
    checkPushDuringFault(checks, "branch missing at the origin", badRef, "the origin has no gh-pages", /not found at the origin/);
    report.badRef = badRef;

    report.diskNearlyFull = await diskNearlyFull(env, checks);
    report.sshCutDuringUp = await sshCutDuringUp(env, checks);
    report.hostRestart = await hostRestartDrill(env, checks);
    return report;
}

/** Disk nearly full: the site root moved onto a tmpfs with 2 MB to spare, then a 30 MB change. */
async function diskNearlyFull(env: SandboxEnvironment, checks: Checks) {
    const drill = "disk nearly full";
    const used = Number(hostExec(env.host.name, "du -sk /srv/selfpages | cut -f1").trim());
    const fill = () =>
        hostExec(env.host.name, `mkdir -p /mnt/small && mount -t tmpfs -o size=${used + 2048}k tmpfs /mnt/small && cp -a /srv/selfpages/. /mnt/small/ && mount --bind /mnt/small /srv/selfpages`);
    const unfill = () => hostExec(env.host.name, "umount /srv/selfpages; umount /mnt/small; rmdir /mnt/small");
    const before = await version(env);
    const token = crypto.randomBytes(6).toString("hex");
    const big: Record<string, string> = { "version.txt": token };
    for (let i = 0; i < 1500; i++) big[`bulk/${i}.html`] = `<p>${crypto.randomBytes(10_000).toString("base64")}</p>\n`;
    const sha = env.publisher.publish(big, "a change that does not fit");
    fill();
    let report: Record<string, unknown>;
    try {
        const mounted = hostExec(env.host.name, "findmnt -n -o FSTYPE --target /srv/selfpages").trim();
        const freeBefore = Number(hostExec(env.host.name, "df -k /srv/selfpages | awk 'NR==2 {print $4}'").trim());
        const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
        let syncLog = "";
        for (let i = 0; i < 60 && !syncLog && (await version(env)).text !== token; i++) {
            await sleep(1000);
            syncLog = syncErrors(env, delivery.guid);
        }
        await sleep(500); // the error lines are logged one by one
        syncLog = syncErrors(env, delivery.guid);
        const during = await version(env);
        const free = Number(hostExec(env.host.name, "df -k /srv/selfpages | awk 'NR==2 {print $4}'").trim());
        report = { siteRootOn: mounted, freeKiBBefore: freeBefore, deliveryStatus: delivery.status_code, syncLog, servedDuringFault: during.status, previousReleaseKept: during.text === before.text, freeKiBAfterFailedSync: free };
        checks.expect(drill, "the fault was in place (site root on a small tmpfs)", mounted === "tmpfs" && freeBefore < 4096, { mounted, freeBefore });
        checks.expect(drill, "the delivery was answered 202", delivery.status_code === 202, delivery.status_code);
        checks.expect(drill, "the sync failed for lack of space and logged it", /No space left on device/.test(syncLog), syncLog);
        checks.expect(drill, "the previous release stayed served", during.status === 200 && during.text === before.text, during.status);
    } finally {
        unfill();
    }
    await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
    report.deployedAfterRepair = await deploysWithin(env, token, 60_000);
    checks.expect(drill, "space freed, the next delivery deploys", report.deployedAfterRepair === true);
    return report;
}
