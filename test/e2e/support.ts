import * as fs from "node:fs";
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

export async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
    return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
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
