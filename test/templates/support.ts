import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

/** Helpers for the tests that run rendered templates with the real tools (nginx, webhook, sh). */

const execFileAsync = promisify(execFile);

export const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/**
 * A fresh path under the temp dir, created by `createTempDir` in a beforeAll (not at collection, so
 * a filtered run whose hooks never run leaves nothing behind) and removed in the afterAll.
 */
export function tempDir(prefix: string): string {
    return path.join(os.tmpdir(), `selfpages-${prefix}-${randomBytes(6).toString("hex")}`);
}

export function createTempDir(dir: string): void {
    fs.mkdirSync(dir, { mode: 0o700 });
}

/**
 * The `load_module` line of the brotli_static module, which the distributions' nginx.conf loads and
 * the tests' minimal nginx.conf must load itself (the module's path is the same on Debian and Alpine).
 */
export function brotliStaticModuleLine(): string {
    const module = "/usr/lib/nginx/modules/ngx_http_brotli_static_module.so";
    if (!fs.existsSync(module)) throw new Error(`${module} is missing: install libnginx-mod-http-brotli-static (scripts/ensure-deps.sh)`);
    return `load_module ${module};`;
}

/** True when an IPv6 socket can be bound here (the nginx config listens on [::] too). */
export async function ipv6Available(): Promise<boolean> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen({ host: "::1", port: 0 }, () => server.close(() => resolve(true)));
    });
}

/**
 * A TCP port free on every address: bound on the wildcard (dual stack when IPv6 exists), since the
 * rendered nginx config listens on 0.0.0.0 and [::].
 */
export async function freePort(): Promise<number> {
    const host = (await ipv6Available()) ? "::" : "0.0.0.0";
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen({ host, port: 0 }, () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** Resolves once something accepts connections on 127.0.0.1:port, or fails after `timeoutMs`. */
export async function waitForPort(port: number, child: ChildProcess, log: () => string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited (${child.exitCode ?? child.signalCode}) before listening on ${port}:\n${log()}`);
        const ok = await new Promise<boolean>((resolve) => {
            const socket = net.connect({ host: "127.0.0.1", port }, () => {
                socket.destroy();
                resolve(true);
            });
            socket.once("error", () => resolve(false));
        });
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms:\n${log()}`);
        await sleep(50);
    }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How a program of files/ ended, and what its stand-ins on PATH logged to `callsFile`. */
export interface ProgramRun {
    status: number;
    stderr: string;
    calls: string;
}

/** Runs a program with only `env`, after emptying `callsFile`, whatever its exit status. */
export async function runLoggingCalls(command: string, args: string[], env: NodeJS.ProcessEnv, callsFile: string): Promise<ProgramRun> {
    fs.writeFileSync(callsFile, "");
    try {
        const { stderr } = await execFileAsync(command, args, { env });
        return { status: 0, stderr, calls: fs.readFileSync(callsFile, "utf8") };
    } catch (error) {
        const e = error as { code: number; stderr: string };
        return { status: e.code, stderr: e.stderr, calls: fs.readFileSync(callsFile, "utf8") };
    }
}

export function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

/** PIDs whose parent is `ppid` (nginx workers of a master, for instance), read from /proc. */
export function childPids(ppid: number): number[] {
    const pids: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            // Field 4 (ppid) follows the command name, which is in parentheses and may hold spaces.
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            if (Number(fields[1]) === ppid) pids.push(Number(entry));
        } catch {
            // The process ended while we looked.
        }
    }
    return pids;
}

/** A spawned long-running tool with its output collected, stoppable by its own PID only. */
export class Daemon {
    readonly child: ChildProcess;
    output = "";
    private readonly exited: Promise<void>;

    constructor(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
        this.child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
        this.child.stdout?.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
        this.child.stderr?.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
        this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
    }

    get pid(): number {
        if (this.child.pid === undefined) throw new Error(`could not start: ${this.output}`);
        return this.child.pid;
    }

    get running(): boolean {
        return this.child.exitCode === null && this.child.signalCode === null;
    }

    /** Sends `signal` to this process only and waits for it to exit (SIGKILL after `graceMs`). */
    async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 5_000): Promise<void> {
        if (!this.running) return;
        this.child.kill(signal);
        const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
        await this.exited;
        clearTimeout(timer);
    }
}

export interface Reply {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: Buffer;
}

/**
 * One HTTP/1.1 request with node:http, which (unlike fetch) sends no Accept-Encoding of its own and
 * never decodes the body, so what nginx sent is what the test sees.
 */
export function request(port: number, method: string, urlPath: string, options: { headers?: http.OutgoingHttpHeaders; body?: Buffer | string } = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
        const body = options.body === undefined ? undefined : Buffer.from(options.body);
        const headers: http.OutgoingHttpHeaders = { ...options.headers };
        if (body !== undefined) headers["content-length"] = body.length;
        const req = http.request({ host: "127.0.0.1", port, method, path: urlPath, headers, agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("end", () => {
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
                req.destroy();
            });
            res.on("error", reject);
        });
        // Rejecting after the answer arrived (a 413 closes before reading the whole body) is a no-op.
        req.on("error", reject);
        if (body !== undefined) req.end(body);
        else req.end();
    });
}

/**
 * The smallest nginx.conf that includes a rendered site config the way the distributions' http {}
 * does, with everything nginx writes kept under `dir`.
 */
export function nginxMainConf(dir: string, siteConf: string): string {
    return [
        // As root, nginx runs workers as `nobody` by default; say so, and keep the files readable by it.
        process.getuid?.() === 0 ? "user nobody nogroup;" : "",
        brotliStaticModuleLine(),
        "worker_processes 1;",
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log warn;`,
        "events { worker_connections 64; }",
        "http {",
        "    include /etc/nginx/mime.types;",
        "    default_type application/octet-stream;",
        ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `    ${t}_temp_path ${dir}/temp/${t};`),
        "    access_log off;",
        `    include ${siteConf};`,
        "}",
        "",
    ].join("\n");
}

/** Drops the `listen [::]:...` lines where IPv6 is missing (some CI containers): they would fail to bind. */
export async function withoutIpv6ListenWhereMissing(conf: string): Promise<string> {
    return (await ipv6Available()) ? conf : conf.replace(/^\s*listen \[::\]:.*\n/gm, "");
}

/**
 * The real nginx running a rendered site config under `dir`: the config inside the minimal
 * nginx.conf, `nginx -t`, a foreground master and its workers, its error log.
 */
export class TestNginx {
    daemon: Daemon | undefined;

    constructor(readonly dir: string) {}

    private get args(): string[] {
        return ["-p", `${this.dir}/`, "-c", path.join(this.dir, "nginx.conf"), "-e", this.errorLogPath];
    }

    get errorLogPath(): string {
        return path.join(this.dir, "error.log");
    }

    errorLog(): string {
        return fs.existsSync(this.errorLogPath) ? fs.readFileSync(this.errorLogPath, "utf8") : "";
    }

    /** Writes `siteConf` and the nginx.conf around it; returns the site config as written. */
    async configure(siteConf: string): Promise<string> {
        fs.mkdirSync(path.join(this.dir, "temp"), { recursive: true });
        const content = await withoutIpv6ListenWhereMissing(siteConf);
        const sitePath = path.join(this.dir, "selfpages.conf");
        fs.writeFileSync(sitePath, content);
        fs.writeFileSync(path.join(this.dir, "nginx.conf"), nginxMainConf(this.dir, sitePath));
        return content;
    }

    /** What `nginx -t` reports (it reports on stderr). */
    async check(): Promise<string> {
        return (await execFileAsync("nginx", ["-t", ...this.args])).stderr;
    }

    /** Starts the master and waits until each of `ports` accepts connections. */
    async start(...ports: number[]): Promise<Daemon> {
        const daemon = new Daemon("nginx", [...this.args, "-g", "daemon off; master_process on;"]);
        this.daemon = daemon;
        for (const port of ports) await waitForPort(port, daemon.child, () => daemon.output + this.errorLog());
        return daemon;
    }

    /** Stops the master (SIGQUIT: gracefully) and says whether it is gone. */
    async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<boolean> {
        const pid = this.daemon?.child.pid;
        await this.daemon?.stop(signal);
        return pid === undefined || !isAlive(pid);
    }
}

const openssl = (dir: string, ...args: string[]) => execFileAsync("openssl", args, { cwd: dir });

/** A test CA in `dir` (ca.pem, ca.key), as the certificates below are issued by. */
export async function makeTestCa(dir: string): Promise<Buffer> {
    await openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=selfpages test CA", "-keyout", "ca.key", "-out", "ca.pem");
    return fs.readFileSync(path.join(dir, "ca.pem"));
}

/**
 * A certificate from the test CA for `names` (the first its CN), written as uacme leaves one:
 * `<prefix>fullchain.pem` and `<prefix>privkey.pem` in `dir`.
 */
export async function issueTestCertificate(dir: string, names: string[], prefix = ""): Promise<{ certificate: string; key: string }> {
    const file = (name: string) => `${prefix}${name}`;
    await openssl(dir, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${names[0]}`, "-keyout", file("privkey.pem"), "-out", file("leaf.csr"));
    fs.writeFileSync(path.join(dir, file("leaf.ext")), `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\n`);
    await openssl(dir, "x509", "-req", "-in", file("leaf.csr"), "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", file("leaf.ext"), "-out", file("fullchain.pem"));
    return { certificate: path.join(dir, file("fullchain.pem")), key: path.join(dir, file("privkey.pem")) };
}

export interface Received {
    method: string;
    url: string;
    headers: http.IncomingHttpHeaders;
    bodySha256: string;
    bodyLength: number;
}

export interface StubReceiver {
    server: http.Server;
    received: Received[];
}

/** Stands in for the webhook receiver on loopback: records every request nginx passes on. */
export function startStubReceiver(port: number): Promise<StubReceiver> {
    const received: Received[] = [];
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => chunks.push(chunk));
        req.on("end", () => {
            const body = Buffer.concat(chunks);
            received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, bodySha256: sha256(body), bodyLength: body.length });
            res.writeHead(202, { "content-type": "text/plain" }).end("accepted\n");
        });
    });
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: "127.0.0.1", port }, () => resolve({ server, received }));
    });
}
