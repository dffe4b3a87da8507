import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";

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

/**
 * A plain HTTP GET that sends only the given headers and decodes nothing (fetch adds
 * Accept-Encoding and inflates bodies, which would hide what nginx really sends).
 */
export function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
    return new Promise((resolve, reject) => {
        const request = http.get(url, { headers, timeout: 5000 }, (response) => {
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

/** `pulumi stack export` as a user runs it: secrets stay encrypted. */
export function exportStack(stackName: string, env: Record<string, string>, cwd: string): string {
    return execFileSync("pulumi", ["stack", "export", "--stack", stackName], { cwd, env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 256 << 20 });
}

/** Every regular file under `root` that anyone may read, with its content (symlinks not followed). */
export function worldReadableFiles(root: string, dirs: string[], maxBytes = 4 << 20): Array<{ file: string; content: Buffer }> {
    const found: Array<{ file: string; content: Buffer }> = [];
    const walk = (dir: string) => {
        let entries: fs.Dirent[];
        try {
            entries = fs.readdirSync(dir, { withFileTypes: true });
        } catch {
            return;
        }
        for (const entry of entries) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) walk(full);
            else if (entry.isFile()) {
                const stat = fs.statSync(full);
                if (stat.mode & 0o004 && stat.size <= maxBytes) found.push({ file: full, content: fs.readFileSync(full) });
            }
        }
    };
    for (const dir of dirs) walk(path.join(root, dir));
    return found;
}

/** Appends a named figure to the e2e figures file (read by the README and the issue notes). */
export function recordFigure(file: string, name: string, value: unknown): void {
    const figures = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>) : {};
    figures[name] = value;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(figures, null, 2)}\n`);
}
