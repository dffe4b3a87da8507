import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import type * as tls from "node:tls";
import * as path from "node:path";
import { compactPrivateKey } from "../../lib/ssh";
import { sandboxEnv } from "../../sandbox/stack";
import { repoRoot } from "../../toolchain/env";

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, intervalMs = 250): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
        try {
            const value = await probe();
            if (value !== undefined && value !== false) return value;
        } catch (error) {
            last = error;
        }
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
}

// The probe loop is the drills' too (scripts/reliability): it lives with the sandbox.
export { probeUntilStopped, type ProbeTarget } from "../../sandbox/probe";

/**
 * A plain HTTP GET that sends only the given headers and decodes nothing (fetch adds
 * Accept-Encoding and inflates bodies, which would hide what nginx really sends).
 */
export function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
    return new Promise((resolve, reject) => {
        // A new connection each time (agent: false): node's global agent keeps sockets alive, and
        // one reused just as nginx's graceful reload closes its idle keep-alive connections fails
        // with a reset that a browser would retry and the probes would count as a failure.
        const request = http.get(url, { headers, timeout: 5000, agent: false }, (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (c: Buffer) => chunks.push(c));
            response.on("end", () => {
                const result = new Headers();
                for (const [key, value] of Object.entries(response.headers)) if (value !== undefined) result.set(key, Array.isArray(value) ? value.join(", ") : value);
                resolve({ status: response.statusCode ?? 0, headers: result, body: Buffer.concat(chunks) });
            });
        });
        request.on("timeout", () => request.destroy(new Error(`GET ${url} timed out`)));
        request.on("error", reject);
    });
}

export interface Ran {
    status: number | null;
    stdout: string;
    stderr: string;
    /** stdout and stderr together, in the order they came. */
    output: string;
}

/**
 * Runs a command without blocking this process: the GitHub stand-in answers from this event loop,
 * and vitest's worker must keep talking to its parent.
 */
export function runCommand(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Ran> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { cwd: options.cwd ?? repoRoot, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let output = "";
        child.stdout.on("data", (d: Buffer) => ((stdout += d.toString()), (output += d.toString())));
        child.stderr.on("data", (d: Buffer) => ((stderr += d.toString()), (output += d.toString())));
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, stdout, stderr, output }));
    });
}

/** A command inside a sandbox host as root, outside SSH, without blocking this process. */
export async function hostRun(name: string, command: string): Promise<{ code: number; output: string }> {
    const ran = await runCommand("bash", [path.join(repoRoot, "sandbox", "host", "exec.sh"), name, "sh", "-c", command]);
    return { code: ran.status ?? -1, output: ran.output };
}

/** `pulumi stack export` of a sandbox's stack as a user runs it: secrets stay encrypted. */
export async function exportStack(sandbox: { name: string; stateDir: string }): Promise<string> {
    const ran = await runCommand("pulumi", ["stack", "export", "--stack", sandbox.name], { env: { ...(process.env as Record<string, string>), ...sandboxEnv(sandbox.stateDir) } });
    if (ran.status !== 0) throw new Error(`pulumi stack export failed: ${ran.stderr}`);
    return ran.stdout;
}

/** Every regular file under the host's directories `dirs` (symlinks not followed), with its stat. */
export function* hostFiles(rootfs: string, dirs: string[]): Generator<{ file: string; stat: fs.Stats }> {
    function* walk(dir: string): Generator<{ file: string; stat: fs.Stats }> {
        let entries: fs.Dirent[];
        try {
            entries = fs.readdirSync(dir, { withFileTypes: true });
        } catch {
            return;
        }
        for (const entry of entries) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) yield* walk(full);
            else if (entry.isFile()) yield { file: full, stat: fs.statSync(full) };
        }
    }
    for (const dir of dirs) yield* walk(path.join(rootfs, dir));
}

/** Every regular file under `root` that anyone may read, with its content. */
export function worldReadableFiles(root: string, dirs: string[], maxBytes = 4 << 20): Array<{ file: string; content: Buffer }> {
    return [...hostFiles(root, dirs)].filter(({ stat }) => stat.mode & 0o004 && stat.size <= maxBytes).map(({ file }) => ({ file, content: fs.readFileSync(file) }));
}

/** Every regular file under the host's directories (readable or not) that holds `needle`, as the host names it. */
export function filesHolding(rootfs: string, dirs: string[], needle: string): string[] {
    return [...hostFiles(rootfs, dirs)].filter(({ file, stat }) => stat.size <= 16 << 20 && fs.readFileSync(file).includes(needle)).map(({ file }) => `/${path.relative(rootfs, file)}`);
}

/** Appends a named figure to the e2e figures file (read by the README and the issue notes). */
export function recordFigure(file: string, name: string, value: unknown): void {
    const figures = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>) : {};
    figures[name] = value;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(figures, null, 2)}\n`);
}

export interface Served {
    status: number;
    headers: http2.IncomingHttpHeaders;
    body: string;
    alpn: string;
    certificate: tls.PeerCertificate;
}

/** One HTTPS request on a new connection, the chain verified against `ca` for `servername`. */
export function httpsGet(address: string, ca: string, servername: string, urlPath = "/", headers: http2.OutgoingHttpHeaders = {}): Promise<Served> {
    return new Promise((resolve, reject) => {
        const session = http2.connect(`https://${address}`, { ca, servername });
        session.on("error", reject);
        const req = session.request({ ":path": urlPath, ":authority": servername, ...headers });
        let responseHeaders: http2.IncomingHttpHeaders = {};
        let body = "";
        req.on("response", (h) => (responseHeaders = h));
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("error", reject);
        req.on("end", () => {
            const socket = session.socket as tls.TLSSocket;
            const result = { status: Number(responseHeaders[":status"]), headers: responseHeaders, body, alpn: String(socket.alpnProtocol), certificate: socket.getPeerCertificate() };
            session.close();
            resolve(result);
        });
        req.end();
    });
}

/**
 * A line of an SSH private key in each form the stack holds it (as configured, and the shortest
 * PEM form every step's connection carries): neither may appear in plain text anywhere.
 */
export const privateKeyLines = (privateKey: string): string[] => [privateKey.split("\n")[1], compactPrivateKey(privateKey).split("\n")[1]];
