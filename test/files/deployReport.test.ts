import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { deployReportConfigFile, deploymentsTokenHeader, deployReportFile, deployReportParameters, filesDir, gzipExtensions, shippedProgram } from "../../lib/hostFiles";
import { renderTemplate } from "../../lib/templates";
import { startGitHubStandin, type ApiRequestRecord, type GitHubStandin } from "../../sandbox/github/server";
import { assocSites, fleetServers, sitesValues, validConfig, validFleetConfig, validSitesConfig } from "../lib/fixtures";
import { busyboxShell, dashShell, realGit, repository, type Shell, SyncHost, which } from "../templates/syncFixtures";
import { freePort } from "../templates/support";

// The deploy reporter (files/deploy-report.sh, as it ships, with its parameters rendered for a
// temporary directory), run for real under dash and under busybox
// ash (busybox applets, git and curl only on PATH), against the GitHub stand-in on loopback; then
// called by the real sync script.

const token = "ghp_reporterTestMainToken00000000000000000";
const deploymentsToken = "github_pat_reporterTestDeploymentsToken_0123456789";
const siteUrl = "http://do-it.example.org/";
const sha = (c: string) => c.repeat(40).slice(0, 40);
const short = (s: string) => s.slice(0, 7);

const toolsDir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-report-tools-"));
const curl = which("curl");
/** busybox ash with its applets, git, and curl (a package of its own on Alpine as on Debian). */
function busyboxWithCurl(): Shell | undefined {
    const shell = busyboxShell(toolsDir);
    if (!shell || !curl) return undefined;
    fs.symlinkSync(curl, path.join(shell.path[0], "curl"));
    return shell;
}
const shells = [dashShell(), busyboxWithCurl()].filter((s): s is Shell => s !== undefined);
if (!curl) console.warn("deploy reporter tests: curl is not installed, nothing to run");

let standin: GitHubStandin;
beforeAll(async () => {
    standin = await startGitHubStandin({ token, deploymentsToken, repositories: [repository] });
});
afterAll(async () => {
    await standin?.close();
    fs.rmSync(toolsDir, { recursive: true, force: true });
});

/** PIDs whose command line mentions `needle` (the reporter's path: its background sender). */
function processesMentioning(needle: string): number[] {
    const found: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
        try {
            if (fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) found.push(Number(entry));
        } catch {
            // gone
        }
    }
    return found;
}

const allCommandLines = () =>
    fs
        .readdirSync("/proc")
        .filter((e) => /^\d+$/.test(e))
        .map((e) => {
            try {
                return fs.readFileSync(`/proc/${e}/cmdline`, "utf8").replace(/\0/g, " ");
            } catch {
                return "";
            }
        })
        .join("\n");

/** A rendered reporter with its own state and log, run under one shell. */
class Reporter {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-report-"));
    readonly script: string;
    readonly stateDir: string;
    readonly logFile: string;
    readonly headerFile: string;

    /** The sync program's parameters the reporter reads (its own, or the sync host's under test). */
    readonly syncConfig: string;

    constructor(
        readonly shell: Shell,
        options: { maxTime?: number; startDelay?: number; token?: string; script?: string; syncConfig?: string; peers?: string; peerWait?: number } = {},
    ) {
        this.script = options.script ?? path.join(this.dir, "deploy-report");
        this.headerFile = path.join(this.dir, "github-deployments.header");
        fs.writeFileSync(this.headerFile, deploymentsTokenHeader(options.token ?? deploymentsToken), { mode: 0o600 });
        if (options.syncConfig) {
            this.syncConfig = options.syncConfig;
        } else {
            this.syncConfig = path.join(this.dir, "sync.conf");
            fs.writeFileSync(
                this.syncConfig,
                renderTemplate("sync.conf", {
                    repository,
                    branch: "gh-pages",
                    folder: "",
                    pin: "",
                    cloneUrl: "/nonexistent",
                    siteRoot: path.join(this.dir, "site"),
                    stateDir: path.join(this.dir, "state"),
                    logFile: path.join(this.dir, "sync.log"),
                    deployReport: this.script,
                    keepReleases: 3,
                    gzipExtensions,
                    gzipMinBytes: 256,
                }),
            );
        }
        const synced = (name: string) => new RegExp(`^${name}='(.*)'$`, "m").exec(fs.readFileSync(this.syncConfig, "utf8"))?.[1] ?? "";
        this.stateDir = synced("STATE_DIR");
        this.logFile = synced("LOG_FILE");
        // Beside sync.conf, where the reporter reads it.
        fs.writeFileSync(
            path.join(path.dirname(this.syncConfig), "deploy-report.conf"),
            renderTemplate("deploy-report.conf", {
                apiUrl: standin.apiUrl,
                environment: "selfpages",
                environmentUrl: siteUrl,
                tokenHeaderFile: this.headerFile,
                connectTimeout: 2,
                maxTime: options.maxTime ?? 5,
                startDelay: options.startDelay ?? 0,
                peers: options.peers ?? "",
                peerTimeout: 1,
                peerWait: options.peerWait ?? 10,
                peerPoll: 0.5,
            }),
        );
        // Run by the shell under test when executed directly (the sync script does that).
        const program = fs.readFileSync(path.join(filesDir, "deploy-report.sh"), "utf8");
        fs.writeFileSync(this.script, program.replace(/^#!\/bin\/sh\n/, `#!${shell.command.join(" ")}\n`), { mode: 0o755 });
    }

    env(): NodeJS.ProcessEnv {
        return { HOME: this.dir, PATH: [...this.shell.path, ...(this.shell.path.length > 0 ? [] : [process.env.PATH ?? "/usr/bin:/bin"])].join(":"), LANG: "C", SELFPAGES_SYNC_CONF: this.syncConfig };
    }

    run(...args: string[]): Promise<{ code: number | null; ms: number; stderr: string }> {
        const started = Date.now();
        const [command, ...leading] = this.shell.command;
        const child = spawn(command, [...leading, this.script, ...args], { env: this.env(), cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        // "close" waits for the pipes: a sender holding them would show here as a slow call.
        return new Promise((resolve, reject) => {
            child.once("error", reject);
            child.once("close", (code) => resolve({ code, ms: Date.now() - started, stderr }));
        });
    }

    /** Waits until the background sender has finished and the queue is empty. */
    async drained(timeoutMs = 20_000): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        const queue = path.join(this.stateDir, "deployments", "queue");
        while (processesMentioning(this.script).length > 0 || (fs.existsSync(queue) && fs.readdirSync(queue).some((f) => /^\d+$/.test(f)))) {
            if (Date.now() > deadline) throw new Error(`the reporter's sender still runs after ${timeoutMs} ms`);
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
    }

    log(): string {
        return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, "utf8") : "";
    }

    cleanup(): void {
        for (const pid of processesMentioning(this.script)) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                // gone
            }
        }
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** A fleet server as the lead's reporter sees it: its commit URL answering a commit, 404, or nothing at all. */
class StubPeer {
    /** A commit, 404, no answer at all, or a file's first line (404 while it is missing), as nginx serves `.selfpages-commit`. */
    answer: string | 404 | "silent" | { file: string } = 404;
    /** When each request came (ms since the epoch). */
    readonly asked: number[] = [];
    private constructor(
        private readonly server: http.Server,
        readonly port: number,
    ) {}

    static async start(): Promise<StubPeer> {
        const server = http.createServer();
        const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
        const peer = new StubPeer(server, port);
        server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
            peer.asked.push(Date.now());
            if (peer.answer === "silent") return;
            const commit = typeof peer.answer === "object" ? (fs.existsSync(peer.answer.file) ? fs.readFileSync(peer.answer.file, "utf8").trim() : 404) : peer.answer;
            if (commit === 404 || req.url !== "/selfpages/main/commit") {
                res.writeHead(404, { "content-type": "text/html" }).end("<html>404</html>\n");
                return;
            }
            res.writeHead(200, { "content-type": "text/plain", "cache-control": "no-store" }).end(`${commit}\n`);
        });
        return peer;
    }

    get url(): string {
        return `http://127.0.0.1:${this.port}/selfpages/main/commit`;
    }

    close(): Promise<void> {
        this.server.closeAllConnections();
        return new Promise((resolve) => this.server.close(() => resolve()));
    }
}

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
    standin.setFault("none");
    while (cleanups.length > 0) await cleanups.pop()!();
});

const deploymentsFor = (commit: string) => standin.deploymentsOf(repository).filter((d) => d.sha === commit);
const statesOf = (commit: string) => deploymentsFor(commit).map((d) => d.statuses.map((s) => s.state));
const requestsSince = (n: number): ApiRequestRecord[] => standin.apiRequests().slice(n);

describe("deploy-report.sh program", () => {
    const { settings } = validConfig({ githubDeploymentsToken: "github_pat_renderOnly_0123456789abcdef" });

    it("ships as it is (without its inner comments) and passes shellcheck -s sh and both shells' -n", () => {
        const file = deployReportFile(settings);
        expect(file).toMatchObject({ path: "/usr/local/lib/selfpages/deploy-report", mode: "0755", owner: "root", group: "root" });
        const program = path.join(filesDir, "deploy-report.sh");
        expect(file.content).toBe(shippedProgram(fs.readFileSync(program, "utf8")));
        for (const shell of shells) execFileSync(shell.command[0], [...shell.command.slice(1), "-n", program]);
        if (which("shellcheck")) execFileSync("shellcheck", ["-s", "sh", program]);
        else console.warn("shellcheck not installed: skipping the lint of the reporter");
    });

    it("its parameters: what sync.conf does not hold, single-quoted, beside it, no token", () => {
        const [site] = settings.sites;
        const file = deployReportConfigFile(settings, site);
        expect(file).toMatchObject({ path: "/etc/selfpages/sites/selfpages/deploy-report.conf", mode: "0640", owner: "root", group: "selfpages" });
        expect(file.content).toContain("API_URL='https://api.github.com'");
        expect(file.content).toContain("ENVIRONMENT='selfpages'");
        expect(file.content).toContain("ENVIRONMENT_URL='https://do-it.example.org/'");
        expect(file.content).toContain("TOKEN_HEADER_FILE='/etc/selfpages/github-deployments.header'");
        expect(file.content).not.toMatch(/^(REPOSITORY|BRANCH|STATE_DIR|LOG_FILE)=/m);
        expect(file.content).not.toContain("github_pat_renderOnly");
        expect(path.posix.dirname(file.path)).toBe(path.posix.dirname(site.layout.syncConfig));
        expect(Object.keys(deployReportParameters(settings, site)).sort()).toEqual(["apiUrl", "connectTimeout", "environment", "environmentUrl", "maxTime", "peerPoll", "peerTimeout", "peerWait", "peers", "startDelay", "tokenHeaderFile"]);
        // One server: no peers to wait for.
        expect(file.content).toContain("PEERS=''\n");
    });

    it("in a fleet, the first server's parameters list each other server's commit URL for the site, with the bounds of the wait", () => {
        const fleet = validFleetConfig(fleetServers, { ...sitesValues(assocSites.slice(0, 2)), githubDeploymentsToken: "github_pat_renderOnly_0123456789abcdef" }).settings;
        const [main, docs] = fleet.sites.map((site) => deployReportConfigFile(fleet, site).content);
        expect(main).toContain("PEERS='web2=http://203.0.113.11/selfpages/main/commit web3=http://[2001:db8::3]/selfpages/main/commit'\n");
        expect(docs).toContain("PEERS='web2=http://203.0.113.11/selfpages/docs/commit web3=http://[2001:db8::3]/selfpages/docs/commit'\n");
        expect(main).toMatch(/^PEER_TIMEOUT='1'\nPEER_WAIT='10'\nPEER_POLL='0.5'$/m);
    });

    it("each site's parameters beside its own sync.conf, with its own URL as the environment's", () => {
        const many = validSitesConfig(assocSites.slice(0, 2), { githubDeploymentsToken: "github_pat_renderOnly_0123456789abcdef" }).settings;
        const files = many.sites.map((site) => deployReportConfigFile(many, site));
        expect(files.map((f) => f.path)).toEqual(["/etc/selfpages/sites/main/deploy-report.conf", "/etc/selfpages/sites/docs/deploy-report.conf"]);
        expect(files[0].content).toContain("ENVIRONMENT_URL='https://assoc.example.org/'");
        expect(files[1].content).toContain("ENVIRONMENT_URL='https://assoc.example.org/docs/'");
    });
});

describe.skipIf(!curl).each(shells)("deploy reporter under $name", (shell) => {
    const reporter = (options?: ConstructorParameters<typeof Reporter>[1]) => {
        const r = new Reporter(shell, options);
        cleanups.push(() => r.cleanup());
        return r;
    };

    it("start then success: one deployment for the commit, in_progress then success with the site's URL; each call returns at once", async () => {
        const r = reporter();
        const commit = sha(shell.name.startsWith("dash") ? "a1" : "a2");
        const start = await r.run("start", commit);
        const success = await r.run("success", commit);
        expect([start.code, success.code]).toEqual([0, 0]);
        expect(start.ms).toBeLessThan(1000);
        expect(success.ms).toBeLessThan(1000);
        await r.drained();
        const [deployment, ...more] = deploymentsFor(commit);
        expect(more).toEqual([]);
        expect(deployment).toMatchObject({ ref: commit, environment: "selfpages", task: "deploy", production_environment: false, transient_environment: false, description: `gh-pages at ${short(commit)}, by selfpages`, creator: { login: "selfpages-deployer" } });
        expect(deployment.statuses.map((s) => [s.state, s.description, s.environment_url])).toEqual([
            ["in_progress", `deploying ${short(commit)}`, ""],
            ["success", `deployed ${short(commit)}`, siteUrl],
        ]);
        expect(r.log()).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ deployments reported success for ${short(commit)} \\(deployment ${deployment.id}\\)\\n$`));
        expect(standin.validationErrors()).toEqual([]);
    });

    it("the sender of a start waits START_DELAY: a quick deploy runs without it, its in_progress and success go out together after", async () => {
        const r = reporter({ startDelay: 1 });
        const commit = sha(shell.name.startsWith("dash") ? "a3" : "a4");
        const before = standin.apiRequests().length;
        const started = Date.now();
        expect((await r.run("start", commit)).ms).toBeLessThan(1000);
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect((await r.run("success", commit)).ms).toBeLessThan(1000);
        await new Promise((resolve) => setTimeout(resolve, 200));
        if (Date.now() - started < 900) expect(requestsSince(before)).toEqual([]);
        await r.drained();
        const first = Date.parse(requestsSince(before)[0].at);
        expect(first - started).toBeGreaterThanOrEqual(950);
        expect(statesOf(commit)).toEqual([["in_progress", "success"]]);
    });

    it("a later commit's success makes the earlier one inactive; a commit deployed again reuses its deployment, even with the local record lost", async () => {
        const r = reporter();
        const [first, second] = shell.name.startsWith("dash") ? [sha("b1"), sha("b2")] : [sha("b3"), sha("b4")];
        for (const commit of [first, second]) {
            await r.run("start", commit);
            await r.run("success", commit);
        }
        await r.drained();
        expect(statesOf(first)).toEqual([["in_progress", "success", "inactive"]]);
        expect(statesOf(second)).toEqual([["in_progress", "success"]]);

        fs.rmSync(path.join(r.stateDir, "deployments", "ids"));
        await r.run("start", first);
        await r.run("success", first);
        await r.drained();
        expect(statesOf(first)).toEqual([["in_progress", "success", "inactive", "in_progress", "success"]]);
        expect(statesOf(second)).toEqual([["in_progress", "success", "inactive"]]);
    });

    it("failure: against the commit it started, else the pushed one, with the reason as one printable line of 140 characters at most; without a commit nothing is sent", async () => {
        const r = reporter();
        const [started, pushed, other] = shell.name.startsWith("dash") ? [sha("c1"), sha("c2"), sha("c3")] : [sha("c4"), sha("c5"), sha("c6")];
        await r.run("start", started);
        await r.run("failure", pushed, "fetch of gh-pages failed: fatal: write error: No space left on device");
        await r.drained();
        expect(deploymentsFor(started)[0].statuses.map((s) => [s.state, s.description])).toEqual([
            ["in_progress", `deploying ${short(started)}`],
            ["failure", "fetch of gh-pages failed: fatal: write error: No space left on device"],
        ]);
        expect(deploymentsFor(pushed)).toEqual([]);

        const reason = `ls-remote of gh-pages failed: "quoted" \\ back\tslash ünïcode ${"x".repeat(200)}`;
        await r.run("failure", other, reason);
        await r.drained();
        const [failure] = deploymentsFor(other)[0].statuses;
        expect(failure.state).toBe("failure");
        // Byte by byte: each byte of a non-ASCII character becomes one "?".
        expect(failure.description).toBe(Buffer.from(reason).toString("latin1").replace(/[^ -~]/g, "?").slice(0, 140));

        const before = standin.apiRequests().length;
        expect((await r.run("failure", "", "unreachable")).code).toBe(0);
        expect((await r.run("failure", "not-a-sha", "unreachable")).code).toBe(0);
        await r.drained();
        expect(standin.apiRequests().length).toBe(before);
        expect((await r.run("start", "not-a-sha")).code).toBe(2);
        expect((await r.run("bogus")).code).toBe(2);
    });

    it("a deploy that never ended is marked error when the next one starts", async () => {
        const r = reporter();
        const [killed, next] = shell.name.startsWith("dash") ? [sha("d1"), sha("d2")] : [sha("d3"), sha("d4")];
        await r.run("start", killed);
        await r.run("start", next);
        await r.run("success", next);
        await r.drained();
        expect(deploymentsFor(killed)[0].statuses.map((s) => [s.state, s.description])).toEqual([
            ["in_progress", `deploying ${short(killed)}`],
            ["error", "stopped before it finished"],
        ]);
        expect(statesOf(next)).toEqual([["in_progress", "success"]]);
    });

    it("GitHub answering 500: the call returns at once; three attempts, then one log line", async () => {
        const r = reporter();
        const commit = sha(shell.name.startsWith("dash") ? "e1" : "e2");
        standin.setFault("500");
        const before = standin.apiRequests().length;
        const call = await r.run("start", commit);
        expect(call.ms).toBeLessThan(1000);
        await r.drained();
        expect(requestsSince(before).map((q) => [q.operationId, q.status])).toEqual(Array(3).fill(["repos/list-deployments", 500]));
        expect(r.log().trim().split("\n")).toEqual([expect.stringMatching(new RegExp(`Z deployments could not report in_progress for ${short(commit)}: GET /repos/${repository}/deployments\\?sha=${commit}&environment=selfpages&per_page=1 answered 500: Server Error`))]);
        // GitHub back: the outcome of the same deploy goes out, with the deployment it was missing.
        standin.setFault("none");
        await r.run("success", commit);
        await r.drained();
        expect(statesOf(commit)).toEqual([["success"]]);
    });

    it("GitHub not answering: the call returns at once; the sender gives up after MAX_TIME without retrying, one log line; the token is on no command line", async () => {
        const r = reporter({ maxTime: 2 });
        const commit = sha(shell.name.startsWith("dash") ? "f1" : "f2");
        standin.setFault("hang");
        const before = standin.apiRequests().length;
        const call = await r.run("start", commit);
        expect(call.ms).toBeLessThan(1000);
        // While curl waits on GitHub: its command line names the header file, not the token.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const commandLines = allCommandLines();
        expect(commandLines).toContain(r.headerFile);
        expect(commandLines).not.toContain(deploymentsToken);
        const started = Date.now();
        await r.drained();
        expect(Date.now() - started).toBeLessThan(4000);
        expect(requestsSince(before).map((q) => [q.operationId, q.status])).toEqual([["repos/list-deployments", 0]]);
        expect(r.log().trim().split("\n")).toEqual([expect.stringMatching(new RegExp(`deployments could not report in_progress for ${short(commit)}: GET /repos/.*: curl: \\(28\\) .*[Tt]imed? out after \\d+ milliseconds with 0 bytes received$`))]);
    });

    it("a token GitHub refuses: one 401, one log line, no retry; the token is in no log or state file", async () => {
        const r = reporter({ token: "github_pat_notTheRightOne_0000000000" });
        const commit = sha(shell.name.startsWith("dash") ? "61" : "62");
        const before = standin.apiRequests().length;
        await r.run("start", commit);
        await r.drained();
        expect(requestsSince(before).map((q) => [q.operationId, q.status, q.token])).toEqual([["repos/list-deployments", 401, null]]);
        expect(r.log()).toMatch(/could not report in_progress for .*: GET .* answered 401: Bad credentials\n$/);
        const files = fs.readdirSync(r.dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && path.join(e.parentPath, e.name) !== r.headerFile);
        for (const f of files) expect(fs.readFileSync(path.join(f.parentPath, f.name), "utf8")).not.toContain("notTheRightOne");
    });

    describe("in a fleet (PEERS: the other servers' commit URLs)", () => {
        const peers = async (n: number) => {
            const started = await Promise.all(Array.from({ length: n }, () => StubPeer.start()));
            for (const peer of started) cleanups.push(() => peer.close());
            return started;
        };
        const successOf = (commit: string) => deploymentsFor(commit).flatMap((d) => d.statuses.filter((s) => s.state === "success"));
        const postedAt = (before: number, state: string) => requestsSince(before).filter((q) => q.operationId === "repos/create-deployment-status").map((q) => Date.parse(q.at))[state === "success" ? 1 : 0];

        it("one deployment for the commit; its success waits until every peer serves it and says so; the calls return at once", async () => {
            const commit = sha(shell.name.startsWith("dash") ? "81" : "82");
            const [web2, web3] = await peers(2);
            web2.answer = commit;
            const r = reporter({ peers: `web2=${web2.url} web3=${web3.url}` });
            const before = standin.apiRequests().length;
            expect((await r.run("start", commit)).ms).toBeLessThan(1000);
            const success = await r.run("success", commit);
            expect(success.ms).toBeLessThan(1000);
            const succeeded = Date.now();
            // web3 deploys a second later.
            setTimeout(() => (web3.answer = commit), 1000);
            await r.drained();
            expect(deploymentsFor(commit)).toHaveLength(1);
            expect(deploymentsFor(commit)[0].statuses.map((s) => [s.state, s.description, s.environment_url])).toEqual([
                ["in_progress", `deploying ${short(commit)}`, ""],
                ["success", `deployed ${short(commit)}: served by 3 of 3 servers`, siteUrl],
            ]);
            // Asked every half second until web3 served it, then no more.
            expect(postedAt(before, "success") - succeeded).toBeGreaterThanOrEqual(900);
            expect(postedAt(before, "success") - succeeded).toBeLessThan(3000);
            expect(web3.asked.length).toBeGreaterThanOrEqual(2);
            expect(web2.asked).toHaveLength(1);
            expect(r.log()).toMatch(new RegExp(`deployments reported success for ${short(commit)} \\(deployment \\d+\\): served by 3 of 3 servers\\n$`));
            expect(standin.validationErrors()).toEqual([]);
        });

        it("a peer answering another commit or 404, one answering nothing and one not listening count as not serving, within PEER_WAIT", async () => {
            const commit = sha(shell.name.startsWith("dash") ? "83" : "84");
            const [web2, web3, web4, web5] = await peers(4);
            web2.answer = commit;
            web3.answer = sha("99");
            web4.answer = 404;
            web5.answer = "silent";
            const closed = await freePort();
            const r = reporter({ peerWait: 2, peers: [web2, web3, web4, web5].map((p, i) => `web${i + 2}=${p.url}`).join(" ") + ` web6=http://127.0.0.1:${closed}/selfpages/main/commit` });
            const before = standin.apiRequests().length;
            await r.run("start", commit);
            await r.run("success", commit);
            const succeeded = Date.now();
            await r.drained();
            expect(successOf(commit).map((s) => s.description)).toEqual([`deployed ${short(commit)}: served by 2 of 6 servers (web3, web4, web5, web6 not yet)`]);
            // PEER_WAIT (2 s, to the hundredth) and one last round bounded by PEER_TIMEOUT (1 s).
            const waited = postedAt(before, "success") - succeeded;
            expect(waited).toBeGreaterThanOrEqual(1000);
            expect(waited).toBeLessThan(4500);
            // The silent peer's requests ended (PEER_TIMEOUT): none is still open.
            expect(web5.asked.length).toBeGreaterThanOrEqual(2);
            expect(deploymentsFor(commit)).toHaveLength(1);
        });

        it("a report queued behind the success: the peers are asked once, without waiting", async () => {
            const [first, next] = shell.name.startsWith("dash") ? [sha("85"), sha("86")] : [sha("87"), sha("88")];
            const [web2] = await peers(1);
            // The start's sender waits a second: all three are queued when it sends.
            const r = reporter({ startDelay: 1, peers: `web2=${web2.url}` });
            for (const args of [["start", first], ["success", first], ["start", next]]) await r.run(...args);
            const started = Date.now();
            await r.drained();
            expect(Date.now() - started).toBeLessThan(4000);
            expect(successOf(first).map((s) => s.description)).toEqual([`deployed ${short(first)}: served by 1 of 2 servers (web2 not yet)`]);
            expect(web2.asked).toHaveLength(1);
        });

        it("too many names for GitHub's 140 characters: their number instead", async () => {
            const commit = sha(shell.name.startsWith("dash") ? "89" : "8a");
            const closed = await freePort();
            const names = Array.from({ length: 6 }, (_, i) => `a-server-with-a-long-nam${i}`);
            const r = reporter({ peerWait: 0, peers: names.map((n) => `${n}=http://127.0.0.1:${closed}/selfpages/main/commit`).join(" ") });
            await r.run("success", commit);
            await r.drained();
            expect(successOf(commit).map((s) => s.description)).toEqual([`deployed ${short(commit)}: served by 1 of 7 servers (6 not yet)`]);
        });
    });

    it("reports queued while the sender is busy go out in their order", async () => {
        const r = reporter();
        const [g, h] = shell.name.startsWith("dash") ? [sha("71"), sha("72")] : [sha("73"), sha("74")];
        for (const args of [["start", g], ["success", g], ["start", h], ["failure", "", "build of x failed: boom"]]) expect((await r.run(...args)).code).toBe(0);
        await r.drained();
        // h failed: g stays the active deployment.
        expect(statesOf(g)).toEqual([["in_progress", "success"]]);
        expect(deploymentsFor(h)[0].statuses.map((s) => [s.state, s.description])).toEqual([
            ["in_progress", `deploying ${short(h)}`],
            ["failure", "build of x failed: boom"],
        ]);
    });
});

describe.skipIf(!curl).each(shells)("the sync script reporting its deploys, under $name", (shell) => {
    const newHost = () => {
        const host = new SyncHost(shell);
        cleanups.push(() => host.cleanup());
        const r = new Reporter(shell, { maxTime: 2, script: path.join(host.root, "deploy-report"), syncConfig: host.config });
        cleanups.push(() => r.cleanup());
        return { host, r };
    };
    const push = (delivery: string, after: string) => ["webhook", "push", "refs/heads/gh-pages", repository, delivery, after];

    it("deploys: start and success; up to date: nothing; branch missing: failure with the sync's reason, against the pushed commit", async () => {
        const { host, r } = newHost();
        const v1 = host.origin.publish({ "index.html": `v1 ${shell.name}\n` });
        expect((await host.run("manual")).code).toBe(0);
        await r.drained();
        expect(statesOf(v1)).toEqual([["in_progress", "success"]]);

        const before = standin.apiRequests().length;
        expect((await host.run("cron")).code).toBe(0);
        expect((await host.run(...push("d-same", v1))).code).toBe(0);
        await r.drained();
        expect(host.outcomes().slice(-2)).toEqual([expect.stringMatching(/up to date/), expect.stringMatching(/up to date/)]);
        expect(standin.apiRequests().length).toBe(before);

        const v2 = host.origin.publish({ "index.html": `v2 ${shell.name}\n` });
        execFileSync(realGit, ["--git-dir", host.origin.bare, "update-ref", "-d", "refs/heads/gh-pages"]);
        const failed = await host.run(...push("d-missing", v2));
        expect(failed.code).toBe(1);
        await r.drained();
        expect(deploymentsFor(v2).map((d) => d.statuses.map((s) => [s.state, s.description]))).toEqual([[["failure", "ls-remote of gh-pages failed: branch gh-pages not found at the origin"]]]);
        expect(host.currentCommit()).toBe(v1);
        // A cron sync failing the same way knows no commit: nothing is sent.
        const quiet = standin.apiRequests().length;
        expect((await host.run("cron")).code).toBe(1);
        await r.drained();
        expect(standin.apiRequests().length).toBe(quiet);

        execFileSync(realGit, ["--git-dir", host.origin.bare, "update-ref", "refs/heads/gh-pages", v2]);
        expect((await host.run(...push("d-back", v2))).code).toBe(0);
        await r.drained();
        expect(statesOf(v2)).toEqual([["failure", "in_progress", "success"]]);
        expect(statesOf(v1)).toEqual([["in_progress", "success", "inactive"]]);
        expect(standin.validationErrors()).toEqual([]);
    });

    it("run as the receiver and cron run it (--conf FILE, nothing in the environment): deploys, and its reporter reads the deploy-report.conf beside FILE", async () => {
        const { host, r } = newHost();
        const v1 = host.origin.publish({ "index.html": `conf ${shell.name}\n` });
        const { SELFPAGES_SYNC_CONF: _unset, ...env } = host.env();
        const [command, ...leading] = shell.command;
        const code = await new Promise<number | null>((resolve, reject) => {
            const child = spawn(command, [...leading, host.script, "--conf", host.config, ...push("d-conf", v1)], { env, cwd: host.root, stdio: "ignore" });
            child.once("error", reject);
            child.once("close", resolve);
        });
        expect(code).toBe(0);
        expect(host.currentCommit()).toBe(v1);
        await r.drained();
        expect(statesOf(v1)).toEqual([["in_progress", "success"]]);
    });

    it("a fleet of two: the lead's sync ends as fast while its reporter waits for the other server, whose deploy its success then counts", async () => {
        const lead = new SyncHost(shell);
        cleanups.push(() => lead.cleanup());
        // The other server deploys from the same origin; its commit URL answers its current release's.
        const other = new SyncHost(shell, { cloneUrl: () => lead.origin.bare });
        cleanups.push(() => other.cleanup());
        const web2 = await StubPeer.start();
        cleanups.push(() => web2.close());
        web2.answer = { file: path.join(other.siteRoot, "current", ".selfpages-commit") };
        const r = new Reporter(shell, { maxTime: 2, script: path.join(lead.root, "deploy-report"), syncConfig: lead.config, peers: `web2=${web2.url}` });
        cleanups.push(() => r.cleanup());

        const v1 = lead.origin.publish({ "index.html": `fleet ${shell.name}\n` });
        const deployed = await lead.run("manual");
        expect(deployed.code).toBe(0);
        expect(deployed.ms).toBeLessThan(3000);
        await new Promise((resolve) => setTimeout(resolve, 700));
        // web2 has not deployed: the success waits.
        expect(statesOf(v1)).toEqual([["in_progress"]]);
        expect(web2.asked.length).toBeGreaterThanOrEqual(2);
        expect((await other.run("manual")).code).toBe(0);
        expect(other.currentCommit()).toBe(v1);
        await r.drained();
        expect(deploymentsFor(v1).map((d) => d.statuses.map((s) => [s.state, s.description]))).toEqual([
            [
                ["in_progress", `deploying ${short(v1)}`],
                ["success", `deployed ${short(v1)}: served by 2 of 2 servers`],
            ],
        ]);
    });

    it("GitHub not answering delays no deploy: the sync ends as fast, the lock is free, the next push deploys", async () => {
        const { host, r } = newHost();
        host.origin.publish({ "index.html": "first\n" });
        expect((await host.run("manual")).code).toBe(0);
        await r.drained();
        standin.setFault("hang");
        const v2 = host.origin.publish({ "index.html": "second\n" });
        const slow = await host.run(...push("d-hang", v2));
        expect(slow.code).toBe(0);
        expect(host.currentCommit()).toBe(v2);
        // The same sync without a reporter takes about as long: the reporting costs a few ms.
        expect(slow.ms).toBeLessThan(3000);
        const v3 = host.origin.publish({ "index.html": "third\n" });
        const next = await host.run(...push("d-next", v3));
        expect(next.code).toBe(0);
        expect(host.currentCommit()).toBe(v3);
        expect(host.log()).not.toMatch(/queued/);
        await r.drained(15_000);
        expect(r.log()).toMatch(/deployments could not report/);
    });
});
