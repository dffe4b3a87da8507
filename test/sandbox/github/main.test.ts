import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, sha, startReceiver, type Receiver } from "./helpers";

const root = path.resolve(__dirname, "../../..");
const tsx = path.join(root, "node_modules", ".bin", "tsx");
const main = path.join(root, "sandbox", "github", "main.ts");

describe("sandbox/github/main.ts: the stand-in as a process, driven from a shell", () => {
    const token = "ghp_standinMainToken0000000000000000000000";
    let dir: string;
    let child: ChildProcessWithoutNullStreams;
    let stderr = "";
    let apiUrl: string;
    let receiver: Receiver;
    let exited: Promise<number | null>;

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "standin-main-"));
        fs.writeFileSync(path.join(dir, "token"), `${token}\n`, { mode: 0o600 });
        receiver = await startReceiver();
        child = spawn(tsx, [main, "--host", "127.0.0.1", "--port", "0", "--token-file", path.join(dir, "token"), "--repo", "Do-It-ECM/do-it", "--state-file", path.join(dir, "state.json")]);
        exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        const firstLine = await new Promise<string>((resolve, reject) => {
            let out = "";
            child.stdout.on("data", (c: Buffer) => {
                out += c.toString();
                if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")));
            });
            void exited.then((code) => reject(new Error(`main.ts exited with ${code}: ${stderr}`)));
        });
        apiUrl = (JSON.parse(firstLine) as { apiUrl: string }).apiUrl;
    }, 60_000);

    afterAll(async () => {
        if (child?.exitCode === null) child.kill("SIGKILL");
        await receiver?.close();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("prints {apiUrl} on one stdout line and writes the state file", () => {
        expect(apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        const state = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8")) as { apiUrl: string; pid: number };
        // The pid of the server's own process (tsx runs it in a child of the one spawned here).
        expect(state).toEqual({ apiUrl, pid: expect.any(Number) });
        expect(() => process.kill(state.pid, 0)).not.toThrow();
    });

    it("serves the API with the token from the file", async () => {
        const api = apiClient(apiUrl, token);
        expect((await api("POST", "/repos/Do-It-ECM/do-it/hooks", { config: { url: receiver.url, content_type: "json", secret: "main-secret" } })).status).toBe(201);
        expect((await api("GET", "/repos/Do-It-ECM/do-it/hooks", undefined, { authorization: "Bearer wrong" })).status).toBe(401);
        await expect.poll(() => receiver.received.length, { timeout: 5000 }).toBe(1);
    });

    it("POST /_standin/repos/OWNER/NAME/push sends a push to the hooks and returns the records", async () => {
        const response = await fetch(`${apiUrl}/_standin/repos/Do-It-ECM/do-it/push`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ref: "refs/heads/gh-pages", after: sha("c") }) });
        expect(response.status).toBe(200);
        const records = (await response.json()) as Array<{ event: string; status_code: number }>;
        expect(records).toMatchObject([{ event: "push", status_code: 202 }]);
        expect(JSON.parse(receiver.received[1].body.toString())).toMatchObject({ ref: "refs/heads/gh-pages", after: sha("c"), repository: { full_name: "Do-It-ECM/do-it" } });
    });

    it("GET /_standin/deliveries lists every record; bad control requests are refused", async () => {
        const all = (await (await fetch(`${apiUrl}/_standin/deliveries`)).json()) as Array<{ event: string }>;
        expect(all.map((d) => d.event)).toEqual(["ping", "push"]);
        const push = (body: unknown, repo = "Do-It-ECM/do-it") => fetch(`${apiUrl}/_standin/repos/${repo}/push`, { method: "POST", body: JSON.stringify(body) });
        expect((await push({ ref: "gh-pages", after: sha("c") })).status).toBe(400);
        expect((await push({ ref: "refs/heads/gh-pages", after: "HEAD" })).status).toBe(400);
        expect((await push({ ref: "refs/heads/gh-pages", after: sha("c") }, "someone/else")).status).toBe(404);
        expect((await fetch(`${apiUrl}/_standin/nothing`)).status).toBe(404);
    });

    it("answers a push with one text line per delivery when asked for ?format=line", async () => {
        const response = await fetch(`${apiUrl}/_standin/repos/Do-It-ECM/do-it/push?format=line`, { method: "POST", body: JSON.stringify({ ref: "refs/heads/gh-pages", after: sha("d") }) });
        expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
        expect(await response.text()).toMatch(/^delivery [0-9a-f-]{36} to http:\/\/127\.0\.0\.1:\d+\/\S*: 202 OK\n$/);
    });

    it("logs to stderr without secrets, and stops on SIGTERM with status 0", async () => {
        child.kill("SIGTERM");
        expect(await exited).toBe(0);
        expect(stderr).toContain("GitHub stand-in listening on");
        expect(stderr).toContain("POST /_standin/repos/Do-It-ECM/do-it/push -> 200");
        expect(stderr).not.toContain(token);
        expect(stderr).not.toContain("main-secret");
    });

    it("refuses to start without a token file or a repository", () => {
        const run = spawnSync(tsx, [main, "--repo", "a/b"], { encoding: "utf8" });
        expect(run.status).toBe(2);
        expect(run.stderr).toContain("usage:");
    });
});
