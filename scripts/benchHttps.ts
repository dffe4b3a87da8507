/**
 * `npx tsx scripts/benchHttps.ts`: HTTPS figures on a sandbox host with pebble as the ACME server,
 * into bench/https.json. Every figure from this one run:
 * - certificate issuance on the first `up` (the issue step's duration, engine events);
 * - requests/s over HTTPS against plain HTTP for the same files (wrk, keep-alive connections, one
 *   after the other): the plain side is the same rendered server block with tls off, on port 8080
 *   of the same nginx;
 * - TLS handshake times from this machine, full and resumed (session cache), TLS 1.3 and 1.2;
 * - where the HTTPS requests/s go: the CPU time per request of nginx's workers and of wrk, each
 *   side, since both share the machine's 2 cores (keep-alive: a handshake per 1000 requests).
 * `--only throughput` or `--only handshakes` runs one part and writes nothing.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { validateConfig } from "../lib/config";
import { nginxSiteFile } from "../lib/hostFiles";
import { buildSandbox } from "../sandbox/build";
import { hostExec } from "../sandbox/hostInstance";
import { repoRoot } from "../toolchain/env";

const outFile = path.join(repoRoot, "bench", "https.json");
const plainPort = 8080;

function median(values: number[]): number {
    const s = [...values].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
}
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

interface WrkRun {
    rps: number;
    requests: number;
    /** CPU seconds of wrk itself (user + system), from bash's `times`. */
    wrkCpuSeconds: number;
}

function wrk(url: string, host: string): Promise<WrkRun> {
    return new Promise((resolve, reject) => {
        const args = ["-t2", "-c16", "-d5s", "-H", "Accept-Encoding: gzip", "-H", `Host: ${host}`, url];
        const child = spawn("bash", ["-c", 'wrk "$@"; times', "wrk", ...args], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.on("data", (c: Buffer) => (out += c.toString()));
        child.on("close", () => {
            const match = /Requests\/sec:\s+([\d.]+)/.exec(out);
            const requests = /(\d+) requests in/.exec(out);
            const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
            // `times`: the shell's own user and system time, then its children's (wrk's).
            const times = [...out.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
            if (!match || !requests || times.length < 4) return reject(new Error(`wrk printed no rate: ${out}`));
            if (errors) return reject(new Error(`wrk saw errors: ${errors[0]}`));
            resolve({ rps: Number(match[1]), requests: Number(requests[1]), wrkCpuSeconds: times[2] + times[3] });
        });
    });
}

/** CPU seconds used so far by the host's nginx workers (utime + stime, in clock ticks of 1/100 s). */
function nginxWorkersCpuSeconds(hostName: string): number {
    const ticks = hostExec(hostName, "for p in $(pgrep -f '^nginx: worker'); do cut -d ' ' -f 14,15 /proc/$p/stat; done");
    return ticks.trim().split("\n").filter(Boolean).reduce((sum, line) => sum + line.split(" ").map(Number).reduce((a, b) => a + b, 0), 0) / 100;
}

/** One wrk run with the CPU time per request of each side, in µs. */
async function measured(url: string, host: string, hostName: string) {
    const before = nginxWorkersCpuSeconds(hostName);
    const run = await wrk(url, host);
    const nginxCpu = nginxWorkersCpuSeconds(hostName) - before;
    return { rps: run.rps, nginxUsPerRequest: (nginxCpu * 1e6) / run.requests, wrkUsPerRequest: (run.wrkCpuSeconds * 1e6) / run.requests };
}

function handshake(address: string, servername: string, ca: string, version: tls.SecureVersion, session?: Buffer): Promise<{ ms: number; reused: boolean; session: Buffer | undefined }> {
    return new Promise((resolve, reject) => {
        const started = process.hrtime.bigint();
        const socket = tls.connect({ host: address, port: 443, servername, ca, minVersion: version, maxVersion: version, session, ALPNProtocols: ["http/1.1"] }, () => {
            const ms = Number(process.hrtime.bigint() - started) / 1e6;
            const reused = socket.isSessionReused();
            if (version === "TLSv1.2") {
                const s = socket.getSession();
                socket.destroy();
                return resolve({ ms, reused, session: s });
            }
            // TLS 1.3 sends its session after the handshake: ask for a page to get it.
            let got: Buffer | undefined;
            socket.once("session", (s: Buffer) => {
                got = s;
                socket.destroy();
            });
            socket.on("close", () => resolve({ ms, reused, session: got }));
            socket.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
            socket.resume();
        });
        socket.once("error", reject);
    });
}

async function handshakes(address: string, servername: string, ca: string, version: tls.SecureVersion, n: number) {
    const full: number[] = [];
    const resumed: number[] = [];
    let reusedCount = 0;
    for (let i = 0; i < n; i++) {
        const first = await handshake(address, servername, ca, version);
        full.push(first.ms);
        const second = await handshake(address, servername, ca, version, first.session);
        if (second.reused) reusedCount++;
        resumed.push(second.ms);
    }
    return { fullMedianMs: round(median(full)), resumedMedianMs: round(median(resumed)), samples: n, resumedReused: reusedCount };
}

async function main(): Promise<void> {
    const env = await buildSandbox({ name: "benchtls", tls: true });
    try {
        let issueStarted = 0;
        let issuanceMs = 0;
        const onEvent = (event: EngineEvent) => {
            const urn = event.resourcePreEvent?.metadata.urn ?? event.resOutputsEvent?.metadata.urn ?? "";
            // The one site's certificate (components/tls.ts: SiteCertificate, named after the site).
            if (!urn.endsWith("selfpages-certificate-issue")) return;
            if (event.resourcePreEvent) issueStarted = Date.now();
            if (event.resOutputsEvent) issuanceMs = Date.now() - issueStarted;
        };
        const t0 = Date.now();
        const up = await env.stack.up({ onEvent });
        if (up.summary.result !== "succeeded") throw new Error("up failed");
        if (issuanceMs === 0) throw new Error("the first up ran no certificate issuance step (selfpages-certificate-issue): nothing to time");
        const upSeconds = (Date.now() - t0) / 1000;
        const root = await env.acme.rootCa();
        const address = env.host.address;
        const name = env.serverNames[0];

        // The same server block without TLS, on port 8080 of the same nginx, for the plain side.
        const values: Record<string, string> = { hostAddress: address, hostKey: env.host.hostKey, hostPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----", siteRepository: env.repository, siteServerNames: JSON.stringify(env.serverNames), githubToken: "x", os: "debian", tls: "off" };
        const plain = nginxSiteFile(validateConfig("selfpages", values, () => true).settings, plainPort).content.replace(/ default_server;/g, ";").replace(/map \$sent_http_content_type \$selfpages_cache_control \{[^}]*\}/, "");
        fs.writeFileSync(path.join(env.host.rootfs, "etc/nginx/conf.d/zz-bench-plain.conf"), plain);
        hostExec(env.host.name, "nginx -t -q && rc-service nginx reload >/dev/null");
        await new Promise((resolve) => setTimeout(resolve, 1000));

        const assets = hostExec(env.host.name, "ls /srv/selfpages/sites/selfpages/current/assets 2>/dev/null || true").split("\n").filter((f) => /\.[0-9a-f]{8,}\.js$/.test(f));
        const files = ["/", "/style.css", ...(assets[0] ? [`/assets/${assets[0]}`] : [])];
        const throughput: Record<string, Record<string, unknown>> = {};
        const parts = (() => {
            const at = process.argv.indexOf("--only");
            return at >= 0 ? process.argv[at + 1].split(",") : ["throughput", "handshakes"];
        })();
        for (const file of parts.includes("throughput") ? files : []) {
            // Both sides answer the same thing: status and body size as curl sees them with gzip.
            const probe = (url: string) =>
                hostExec(env.host.name, `curl -sk -o /dev/null -w '%{http_code} %{size_download}' -H 'Accept-Encoding: gzip' -H 'Host: ${name}' ${url}`).trim();
            const [httpsProbe, httpProbe] = [probe(`https://127.0.0.1${file}`), probe(`http://127.0.0.1:${plainPort}${file}`)];
            if (httpsProbe !== httpProbe || !httpsProbe.startsWith("200 ")) throw new Error(`${file}: https answers ${httpsProbe}, http ${httpProbe}`);
            // Three rounds, alternating, the median of each side: the machine is shared.
            const https: Array<Awaited<ReturnType<typeof measured>>> = [];
            const http: Array<Awaited<ReturnType<typeof measured>>> = [];
            for (let round = 0; round < 3; round++) {
                https.push(await measured(`https://${address}${file}`, name, env.host.name));
                http.push(await measured(`http://${address}:${plainPort}${file}`, name, env.host.name));
            }
            const m = (runs: typeof https, key: keyof (typeof https)[number]) => median(runs.map((r) => r[key]));
            const [h, p] = [m(https, "rps"), m(http, "rps")];
            const cpu = {
                nginxHttps: round(m(https, "nginxUsPerRequest")),
                nginxHttp: round(m(http, "nginxUsPerRequest")),
                wrkHttps: round(m(https, "wrkUsPerRequest")),
                wrkHttp: round(m(http, "wrkUsPerRequest")),
            };
            throughput[file] = {
                https: Math.round(h),
                http: Math.round(p),
                ratio: round(h / p),
                status: httpsProbe.split(" ")[0],
                bytes: httpsProbe.split(" ")[1],
                cpuUsPerRequest: cpu,
                // Both share 2 cores: requests/s follow the CPU a request costs both sides together.
                ratioFromCpu: round((cpu.nginxHttp + cpu.wrkHttp) / (cpu.nginxHttps + cpu.wrkHttps)),
                // What nginx alone could do with a load generator on another machine.
                nginxOnlyRatio: round(cpu.nginxHttp / cpu.nginxHttps),
            };
        }
        const withHandshakes = parts.includes("handshakes");
        const tls13 = withHandshakes ? await handshakes(address, name, root, "TLSv1.3", 50) : undefined;
        const tls12 = withHandshakes ? await handshakes(address, name, root, "TLSv1.2", 50) : undefined;
        fs.rmSync(path.join(env.host.rootfs, "etc/nginx/conf.d/zz-bench-plain.conf"));

        const results = {
            date: new Date().toISOString(),
            // The figures are quoted under the machine kind's name; the VM's own hostname is generic.
            machine: process.env.BENCH_MACHINE ?? "polyglot",
            cores: os.cpus().length,
            firstUp: { seconds: round(upSeconds, 1), certificateIssuanceMs: issuanceMs },
            requestsPerSecond: {
                tool: "wrk -t2 -c16 -d5s, Accept-Encoding: gzip, keep-alive connections; median of 3 alternating rounds per side",
                cpu: "µs of CPU per request: nginx's workers (their /proc stat ticks) and wrk (bash `times`), over the same runs",
                files: throughput,
            },
            handshakes: { from: "node tls.connect on the sandbox's gateway, median of 50", "TLSv1.3": tls13, "TLSv1.2": tls12 },
        };
        console.log(JSON.stringify(results, null, 2));
        if (process.argv.includes("--only")) return;
        fs.mkdirSync(path.dirname(outFile), { recursive: true });
        fs.writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
    } finally {
        await env.close();
    }
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
