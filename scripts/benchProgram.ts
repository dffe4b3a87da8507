/**
 * `npm run bench` (after scripts/bench.ts), or `npx tsx scripts/benchProgram.ts` alone: what a
 * `pulumi up` costs on a sandbox host, written to bench/program.json. In one run, side by side:
 *   - the compiled program (program.js running dist/, what Pulumi.yaml runs) and the ts-node
 *     program it replaced (a copy of the project with `typescript: true`, the same stack and state);
 *   - an Ansible play of the same server's no-op (scripts/bench/serverPlay.yml, ansible-core from
 *     Debian, installed here): the tool the program should beat.
 * Timed: `up --yes` (its preview included), `up --yes --skip-preview`, `preview` of an unchanged
 * stack (no-ops, each checked to change nothing), and `up` from a bare host; memory: the program's
 * node process's peak RSS (VmHWM sampled from /proc, scripts/procTree.ts), and when each process
 * of the CLI's tree ran (where the time goes), from separate sampled runs: the timed runs (pulumi's
 * and the play's alike) are not sampled, as sampling costs CPU on a machine of 2 cores.
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { validateConfig } from "../lib/config";
import { allHostFiles, secretPlaceholder } from "../lib/hostFiles";
import { hostDirectories, siteDirectories } from "../lib/layout";
import { buildSandbox, type Sandbox as SandboxEnvironment } from "../sandbox/build";
import { hostExec, type SandboxHost } from "../sandbox/hostInstance";
import { sandboxEnv } from "../sandbox/stack";
import { repoRoot } from "../toolchain/env";
import { descendants, listProcs, processName, statusKiB } from "./procTree";
import { stackValues } from "./render";

const resultsFile = path.join(repoRoot, "bench", "program.json");
const runs = Number(process.env.BENCH_PROGRAM_RUNS ?? 5);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
const round = (value: number, digits = 2) => Number(value.toFixed(digits));

/** Ansible from Debian's packages, as a user of it would have it; Python on the host for its modules. */
function ensureAnsible(): void {
    const installed = (pkg: string) => {
        try {
            return execFileSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" }).includes("install ok installed");
        } catch {
            return false;
        }
    };
    if (!installed("ansible-core")) {
        console.error("bench: installing ansible-core (Debian package)");
        execFileSync("apt-get", ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "--no-install-recommends", "ansible-core"], {
            stdio: ["ignore", "inherit", "inherit"],
            env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
        });
    }
}

/**
 * Python and python3-apt in the bench host (Ansible runs its modules there; selfpages needs none):
 * apt-get inside the host's filesystem and PID namespace, through this machine's network and mirror.
 */
function pythonOnHost(host: SandboxHost): void {
    const pid = execFileSync("bash", ["-c", `pgrep -P "$(cat /var/lib/selfpages-sandbox/${host.name}/init.pid)" | head -n 1`], { encoding: "utf8" }).trim();
    const inHost = (...args: string[]) =>
        execFileSync("nsenter", ["--target", pid, "--mount", "--pid", "--uts", "--ipc", "--root", "--wdns=/", "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive", ...args], {
            stdio: ["ignore", "ignore", "inherit"],
        });
    if (fs.existsSync(path.join(host.rootfs, "usr/lib/python3/dist-packages/apt"))) return;
    console.error(`bench: installing python3 and python3-apt in ${host.name} (for Ansible's modules)`);
    inHost("apt-get", "update", "-qq");
    inHost("apt-get", "install", "-y", "-qq", "--no-install-recommends", "python3", "python3-apt");
}

/**
 * processName's, except for the language host's `node -e` that only resolves the SDK's run
 * script: its code names cmd/run, and it is not the program.
 */
function nameOf(pid: number, fallback: string): string {
    let argv: string[] = [];
    try {
        argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
        // gone
    }
    return argv[1] === "-e" && path.basename(argv[0]).startsWith("node") ? "node -e (language host's SDK check)" : processName(pid, fallback);
}

interface ProcessSpan {
    name: string;
    startMs: number;
    endMs: number;
    peakRssMiB: number;
}

/**
 * Runs a command and samples its process tree every 20 ms: when each process was first and last
 * seen (ms from the start) and its peak RSS. A synchronous /proc read per sample, on a timer: the
 * command itself runs in other processes.
 */
async function traced(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }, sampling = true): Promise<{ seconds: number; stdout: string; spans: ProcessSpan[] }> {
    const started = performance.now();
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const spans = new Map<number, ProcessSpan>();
    const sample = () => {
        if (child.pid === undefined) return;
        const now = performance.now() - started;
        const procs = listProcs();
        for (const pid of descendants(procs, [child.pid])) {
            const status = statusKiB(pid);
            if (!status || status.VmRSS === undefined) continue;
            const peak = Math.max(status.VmHWM ?? 0, status.VmRSS) / 1024;
            const known = spans.get(pid);
            if (known) {
                known.endMs = now;
                known.peakRssMiB = Math.max(known.peakRssMiB, peak);
                // A process seen before its exec has the name of its parent: take the newest name.
                known.name = nameOf(pid, known.name);
            } else spans.set(pid, { name: nameOf(pid, procs.get(pid)?.comm ?? "?"), startMs: now, endMs: now, peakRssMiB: peak });
        }
    };
    const timer = sampling ? setInterval(sample, 20) : undefined;
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    clearInterval(timer);
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited ${code}:\n${stdout}\n${stderr}`);
    return { seconds, stdout, spans: [...spans.values()].sort((a, b) => a.startMs - b.startMs).map((s) => ({ ...s, startMs: Math.round(s.startMs), endMs: Math.round(s.endMs), peakRssMiB: round(s.peakRssMiB, 1) })) };
}

/** The program's node processes (one per program run: two in an `up` with its preview). */
const programSpans = (spans: ProcessSpan[]) => spans.filter((s) => s.name === "node (program)");

/**
 * A copy of the project beside the same node_modules, stack file and backend (the same stack, read
 * by another program), with Pulumi.yaml and package.json changed by `variant`:
 *   tsNode: the program as it ran before: `typescript: true` and main index.ts (ts-node compiles
 *     and type-checks every run), node's default memory settings;
 *   defaultNode: the compiled program without Pulumi.yaml's nodeargs.
 * Modification times are kept, so that the copied build is not stale.
 */
function projectCopy(stackName: string, variant: "tsNode" | "defaultNode"): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `selfpages-${variant}-`));
    for (const entry of ["program.js", "dist", "index.ts", "components", "lib", "templates", "files", "tsconfig.json", "tsconfig.build.json", "package-lock.json", `Pulumi.${stackName}.yaml`]) {
        fs.cpSync(path.join(repoRoot, entry), path.join(dir, entry), { recursive: true, preserveTimestamps: true });
    }
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(variant === "tsNode" ? { ...pkg, main: "index.ts" } : pkg, null, 2));
    const project = fs.readFileSync(path.join(repoRoot, "Pulumi.yaml"), "utf8");
    let changed = project.replace(/^ *nodeargs: .*\n/m, "");
    if (variant === "tsNode") changed = changed.replace(/typescript: false/, "typescript: true");
    if (changed === project || (variant === "tsNode" && !changed.includes("typescript: true"))) throw new Error(`Pulumi.yaml: nothing to change for the ${variant} variant`);
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), changed);
    return dir;
}

/**
 * One `pulumi` command of a stack in a project directory; checks that a no-op changed nothing.
 * Sampled (`sampling`), it also gives the processes' timeline and peaks; timed runs are not sampled:
 * reading /proc every 20 ms takes ~1.5 ms of CPU a time, on a machine of 2 cores.
 */
async function pulumiRun(cwd: string, stack: string, env: NodeJS.ProcessEnv, args: string[], noOp: boolean, sampling = true) {
    const run = await traced("pulumi", [...args, "--stack", stack, "--non-interactive", "--color", "never"], { cwd, env }, sampling);
    if (noOp && !/\b\d+ unchanged\b/.test(run.stdout)) throw new Error(`pulumi ${args.join(" ")}: no summary of unchanged resources:\n${run.stdout}`);
    if (noOp && /\b\d+ to (create|update|delete|replace)\b|\b\d+ (created|updated|deleted|replaced)\b/.test(run.stdout)) throw new Error(`pulumi ${args.join(" ")} was not a no-op:\n${run.stdout}`);
    if (!sampling) return { seconds: run.seconds, programRuns: 0, programPeakRssMiB: 0, spans: [] };
    const programs = programSpans(run.spans);
    if (programs.length === 0) throw new Error(`pulumi ${args.join(" ")}: the program's node process was never sampled`);
    return { seconds: run.seconds, programRuns: programs.length, programPeakRssMiB: Math.max(...programs.map((p) => p.peakRssMiB)), spans: run.spans };
}

const commands = {
    upYes: ["up", "--yes"],
    upSkipPreview: ["up", "--yes", "--skip-preview"],
    preview: ["preview"],
};
type Measure = keyof typeof commands;
type Run = Awaited<ReturnType<typeof pulumiRun>>;

/** Timed runs of one measure (unsampled) and the sampled ones that give its memory and timeline. */
interface Runs {
    timed: Run[];
    sampled: Run[];
}

/** How many sampled runs per variant and measure, after the timed ones. */
const sampledRuns = 2;

/**
 * Each no-op `runs` times, timed, the variants interleaved so that the machine's load falls on all
 * alike; then `sampledRuns` more of each, sampled, for the program's peak RSS and where the time goes.
 */
async function noOps(variants: Record<string, string>, stack: string, env: NodeJS.ProcessEnv) {
    const results: Record<string, Record<Measure, Runs>> = {};
    const of = (variant: string, measure: Measure) => ((results[variant] ??= { upYes: { timed: [], sampled: [] }, upSkipPreview: { timed: [], sampled: [] }, preview: { timed: [], sampled: [] } })[measure]);
    for (const measure of Object.keys(commands) as Measure[]) {
        const args = commands[measure];
        for (let i = 0; i < runs + sampledRuns; i++) {
            const sampling = i >= runs;
            for (const [variant, dir] of Object.entries(variants)) {
                const run = await pulumiRun(dir, stack, env, args, true, sampling);
                of(variant, measure)[sampling ? "sampled" : "timed"].push(run);
                console.error(`bench: ${variant} ${args.join(" ")}: ${run.seconds.toFixed(2)} s${sampling ? `, sampled: program ${run.programPeakRssMiB} MiB` : ""}`);
            }
        }
    }
    return results;
}

function summary({ timed, sampled }: Runs) {
    const medianSeconds = median(timed.map((r) => r.seconds));
    return {
        medianSeconds: round(medianSeconds),
        seconds: timed.map((r) => round(r.seconds)),
        programRuns: sampled[0].programRuns,
        programPeakRssMiB: Math.max(...sampled.map((r) => r.programPeakRssMiB)),
        // The processes of the sampled run closest to the timed median: when each ran (ms from the CLI's start) and its peak.
        sampledSeconds: sampled.map((r) => round(r.seconds)),
        processesOfSampledRun: [...sampled].sort((a, b) => Math.abs(a.seconds - medianSeconds) - Math.abs(b.seconds - medianSeconds))[0].spans,
    };
}

/** The files selfpages wrote, read back from the host: the play writes the same bytes, modes and owners. */
function playVars(env: SandboxEnvironment, stackFile: string, filesDir: string) {
    const { settings } = validateConfig("selfpages", stackValues(stackFile), () => true);
    const { layout, platform } = settings;
    const files = [];
    let crontab = "";
    for (const file of allHostFiles(settings, Object.fromEntries(settings.sites.map((site) => [site.name, [secretPlaceholder("webhook-v1")]])))) {
        const local = path.join(filesDir, file.path.replace(/[/:]/g, "_"));
        if (file.path.startsWith("crontab:")) {
            fs.writeFileSync(local, hostExec(env.host.name, `crontab -u ${layout.serviceUser} -l`), { mode: 0o600 });
            crontab = local;
            continue;
        }
        fs.writeFileSync(local, hostExec(env.host.name, `cat '${file.path}'`), { mode: 0o600 });
        files.push({ src: local, dest: file.path, owner: file.owner, group: file.group, mode: file.mode });
    }
    const user = layout.serviceUser;
    return {
        packages: platform.packages,
        nginx_default_site: platform.nginxDefaultSitePath,
        service_user: user,
        directories: [...hostDirectories(settings), ...settings.sites.flatMap((site) => siteDirectories(layout, site.layout, site.certificateNames !== undefined))],
        files,
        crontab,
        services: ["nginx", layout.receiverService, platform.cronService],
    };
}

/** The Ansible play of the same server, `runs` times on the provisioned host: each must change nothing. */
async function ansibleNoOps(env: SandboxEnvironment, stackFile: string) {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-ansible-"));
    try {
        const { host } = env;
        const filesDir = path.join(work, "files");
        fs.mkdirSync(filesDir, { mode: 0o700 });
        fs.writeFileSync(path.join(work, "vars.json"), JSON.stringify(playVars(env, stackFile, filesDir)));
        fs.writeFileSync(path.join(work, "known_hosts"), `${host.address} ${host.hostKey}\n`);
        fs.writeFileSync(
            path.join(work, "inventory.ini"),
            `server ansible_host=${host.address} ansible_port=${host.port} ansible_user=${host.user} ansible_ssh_private_key_file=${host.privateKeyPath} ansible_python_interpreter=/usr/bin/python3 ansible_ssh_common_args='-o UserKnownHostsFile=${path.join(work, "known_hosts")} -o StrictHostKeyChecking=yes'\n`,
        );
        const play = path.join(repoRoot, "scripts", "bench", "serverPlay.yml");
        const seconds: number[] = [];
        let tasks = 0;
        // Run 0 converges (it stages the crontab the play compares against) and is not timed.
        for (let i = 0; i <= runs; i++) {
            // A fresh SSH control socket each run: every play starts from no connection, like every `up`.
            const controlDir = path.join(work, `cp-${i}`);
            fs.mkdirSync(controlDir);
            const run = await traced("ansible-playbook", ["-i", path.join(work, "inventory.ini"), "-e", `@${path.join(work, "vars.json")}`, play], {
                cwd: work,
                env: { ...process.env, ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir, ANSIBLE_PIPELINING: "True", ANSIBLE_NOCOLOR: "1", ANSIBLE_RETRY_FILES_ENABLED: "False" },
            }, false);
            const recap = /server\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(run.stdout);
            if (!recap) throw new Error(`ansible-playbook: no recap:\n${run.stdout}`);
            if (recap[4] !== "0" || (i > 0 && recap[2] !== "0")) throw new Error(`the play was not a no-op (changed=${recap[2]}, failed=${recap[4]}):\n${run.stdout}`);
            tasks = Number(recap[1]);
            if (i > 0) seconds.push(run.seconds);
            console.error(`bench: ansible no-op play: ${run.seconds.toFixed(2)} s (${tasks} ok, 0 changed)`);
            // Its SSH master would linger for ControlPersist's 60 s: ended now.
            for (const socket of fs.readdirSync(controlDir)) {
                try {
                    execFileSync("ssh", ["-o", `ControlPath=${path.join(controlDir, socket)}`, "-O", "exit", host.address], { stdio: "ignore" });
                } catch {
                    // already gone
                }
            }
        }
        return { medianSeconds: round(median(seconds)), seconds: seconds.map((s) => round(s)), tasksOk: tasks, changed: 0, settings: "ansible-core (Debian), pipelining on, facts not gathered, a new SSH connection per run" };
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

async function main(): Promise<void> {
    ensureAnsible();
    const name = process.env.BENCH_PROGRAM_SANDBOX ?? "bprog";
    const results: Record<string, unknown> = {
        run: { date: new Date().toISOString(), machine: process.env.BENCH_MACHINE ?? "polyglot", hostname: os.hostname(), cores: os.cpus().length, runsPerMeasure: runs },
    };
    const env = await buildSandbox({ name });
    // A second bare host for the ts-node program's up from bare, closed once that is measured.
    const bare = await buildSandbox({ name: `${name}-ts` });
    let bareOpen = true;
    const closeBare = async () => {
        if (bareOpen) await bare.close();
        bareOpen = false;
    };
    const tsNodeDirs: string[] = [];
    try {
        const cliEnv = { ...process.env, ...sandboxEnv(env.stateDir) };
        const bareEnv = { ...process.env, ...sandboxEnv(bare.stateDir) };
        const compiled = repoRoot;
        const tsNode = projectCopy(name, "tsNode");
        const defaultNode = projectCopy(name, "defaultNode");
        const bareTsNode = projectCopy(`${name}-ts`, "tsNode");
        tsNodeDirs.push(tsNode, defaultNode, bareTsNode);

        const fromBare = {
            compiled: await pulumiRun(compiled, name, cliEnv, ["up", "--yes", "--skip-preview"], false),
            tsNode: await pulumiRun(bareTsNode, `${name}-ts`, bareEnv, ["up", "--yes", "--skip-preview"], false),
        };
        await closeBare();
        const noOp = await noOps({ compiled, tsNode, defaultNode }, name, cliEnv);
        // The program's figures are written even when the baseline play fails (and the bench then fails).
        let ansible: Awaited<ReturnType<typeof ansibleNoOps>> | { error: string };
        try {
            pythonOnHost(env.host);
            ansible = await ansibleNoOps(env, path.join(repoRoot, `Pulumi.${name}.yaml`));
        } catch (error) {
            ansible = { error: error instanceof Error ? error.message.split("\n")[0] : String(error) };
        }
        const ansibleSeconds = "medianSeconds" in ansible ? ansible.medianSeconds : NaN;

        const variant = (key: "compiled" | "tsNode") => ({
            upFromBare: { seconds: round(fromBare[key].seconds), programPeakRssMiB: fromBare[key].programPeakRssMiB, processes: fromBare[key].spans },
            ...noOpSummary(key),
        });
        const noOpSummary = (key: string) => ({
            upYes: summary(noOp[key].upYes),
            upSkipPreview: summary(noOp[key].upSkipPreview),
            preview: summary(noOp[key].preview),
        });
        const compiledFigures = variant("compiled");
        const tsNodeFigures = variant("tsNode");
        const upYes = compiledFigures.upYes.medianSeconds;
        results.compiled = compiledFigures;
        results.tsNode = tsNodeFigures;
        results.compiledWithoutNodeArgs = noOpSummary("defaultNode");
        results.ansibleNoOpPlay = ansible;
        results.goals = {
            noOpUpYesSeconds: { value: upYes, goal: 2.6, met: upYes <= 2.6 },
            halfOfAnsibleNoOp: { value: upYes, goal: round(ansibleSeconds / 2), met: upYes <= ansibleSeconds / 2 },
            programPeakRssMiB: {
                value: Math.max(compiledFigures.upYes.programPeakRssMiB, compiledFigures.upSkipPreview.programPeakRssMiB, compiledFigures.preview.programPeakRssMiB),
                goal: 120,
                met: Math.max(compiledFigures.upYes.programPeakRssMiB, compiledFigures.upSkipPreview.programPeakRssMiB, compiledFigures.preview.programPeakRssMiB) <= 120,
            },
        };
        fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
        fs.writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
        const line = (label: string, f: typeof compiledFigures) =>
            `${label}: up --yes ${f.upYes.medianSeconds} s, --skip-preview ${f.upSkipPreview.medianSeconds} s, preview ${f.preview.medianSeconds} s, from bare ${f.upFromBare.seconds} s; program peak ${f.upYes.programPeakRssMiB} MiB`;
        console.log(line("compiled", compiledFigures));
        console.log(line("ts-node ", tsNodeFigures));
        console.log(`ansible no-op play: ${"error" in ansible ? ansible.error : `${ansible.medianSeconds} s`}`);
        console.log(`goals: ${JSON.stringify(results.goals)}`);
        console.log(`written to ${resultsFile}`);
        if ("error" in ansible) throw new Error(`the Ansible baseline failed: ${ansible.error}`);
    } finally {
        for (const dir of tsNodeDirs) fs.rmSync(dir, { recursive: true, force: true });
        await closeBare().catch(() => undefined);
        await env.close();
    }
}

main().catch((error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
});
