import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as path from "node:path";
import { repoRoot } from "../../toolchain/env";

/**
 * The sandbox's ACME server: pebble (Let's Encrypt's test CA) and pebble-challtestsrv as the DNS
 * that answers every name with the sandbox host's address, both on the host's gateway address so
 * that uacme on the host reaches pebble and pebble reaches nginx on port 80. Pebble's directory is
 * served over HTTPS with a certificate for the gateway address made here, from a CA made here: the
 * stack trusts it through `tlsCaBundle`. Issued certificates chain to a root pebble generates at
 * each start (`rootCa()`).
 */
export interface SandboxAcme {
    directoryUrl: string;
    /** The CA of pebble's own HTTPS (directory and management): the stack's tlsCaBundle. */
    directoryCa: string;
    /** The root of the certificates pebble issues, from its management port. */
    rootCa(): Promise<string>;
    /** Stops pebble only (the DNS stays): an ACME server that is down. */
    stopPebble(): Promise<void>;
    startPebble(): Promise<void>;
    /** How many certificates pebble issued since this start (each "Issued certificate serial" line: one per finalized order). */
    issuedCertificates(): number;
    close(): Promise<void>;
}

const acmePort = 14000;
const managementPort = 15000;
const dnsPort = 8053;
const dnsManagementPort = 8055;

function waitForPort(host: string, port: number, child: ChildProcess, output: () => string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
        const attempt = () => {
            if (child.exitCode !== null) return reject(new Error(`exited (${child.exitCode}) before listening on ${host}:${port}: ${output()}`));
            const socket = net.connect({ host, port }, () => {
                socket.destroy();
                resolve();
            });
            socket.on("error", () => {
                socket.destroy();
                if (Date.now() > deadline) reject(new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms: ${output()}`));
                else setTimeout(attempt, 100);
            });
        };
        attempt();
    });
}

function stop(child: ChildProcess | undefined): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 3000).unref();
    });
}

/** Stops the daemons a `daemon` start left running (`npm run sandbox -- --down`). */
export function stopSandboxAcmeDaemons(workDir: string): void {
    const pidFile = path.join(workDir, "pids");
    if (!fs.existsSync(pidFile)) return;
    for (const pid of fs.readFileSync(pidFile, "utf8").split("\n").filter((l) => l !== "").map(Number)) {
        try {
            process.kill(pid, "SIGTERM");
        } catch {
            // already gone
        }
    }
    fs.rmSync(pidFile, { force: true });
}

/**
 * Makes challtestsrv answer `names` with `addresses` (A records, in this order) instead of the
 * first host's address alone: a fleet's names point at every server. pebble validates HTTP-01 at
 * the first address of the answer (va.go: addrs[0]), so putting a peer first makes every
 * validation reach a peer, which must hand the challenge on to the lead.
 */
export async function answerNamesWith(gatewayAddress: string, names: string[], addresses: string[]): Promise<void> {
    const post = (endpoint: string, body: string) =>
        new Promise<void>((resolve, reject) => {
            const req = http.request({ host: gatewayAddress, port: dnsManagementPort, path: endpoint, method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }, agent: false }, (res) => {
                res.resume();
                res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`challtestsrv ${endpoint} answered ${res.statusCode}`))));
            });
            req.on("error", reject);
            req.end(body);
        });
    for (const name of names) {
        // add-a appends to what the name had: cleared first, so that the answer is `addresses` alone.
        await post("/clear-a", JSON.stringify({ host: name }));
        await post("/add-a", JSON.stringify({ host: name, addresses }));
    }
}

/**
 * `daemon`: pebble and challtestsrv outlive this process (detached, logs in workDir, pids in
 * workDir/pids), for `npm run sandbox -- --tls`.
 */
export async function startSandboxAcme(options: { gatewayAddress: string; hostAddress: string; workDir: string; daemon?: boolean }): Promise<SandboxAcme> {
    const toolDir = execFileSync("bash", [path.join(repoRoot, "sandbox", "acme", "build.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
    const dir = options.workDir;
    fs.mkdirSync(dir, { recursive: true });
    const gw = options.gatewayAddress;
    // pebble's HTTPS certificate names the gateway address: the module's test certificate names
    // only localhost and 127.0.0.1, and uacme verifies the name.
    const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
    ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=selfpages sandbox ACME directory CA", "-keyout", "ca.key", "-out", "ca.pem");
    ssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${gw}`, "-keyout", "key.pem", "-out", "cert.csr");
    fs.writeFileSync(path.join(dir, "cert.ext"), `subjectAltName=IP:${gw}\n`);
    ssl("x509", "-req", "-in", "cert.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "cert.ext", "-out", "cert.pem");
    const directoryCa = fs.readFileSync(path.join(dir, "ca.pem"), "utf8");
    fs.writeFileSync(
        path.join(dir, "pebble.json"),
        JSON.stringify({
            pebble: {
                listenAddress: `${gw}:${acmePort}`,
                managementListenAddress: `${gw}:${managementPort}`,
                certificate: path.join(dir, "cert.pem"),
                privateKey: path.join(dir, "key.pem"),
                httpPort: 80,
                tlsPort: 443,
                ocspResponderURL: "",
                externalAccountBindingRequired: false,
            },
        }),
    );

    let dnsOutput = "";
    const daemonOptions = (name: string) => (options.daemon ? { detached: true, stdio: ["ignore", fs.openSync(path.join(dir, `${name}.log`), "a"), fs.openSync(path.join(dir, `${name}.log`), "a")] as ["ignore", number, number] } : { stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"] });
    const remember = (child: ChildProcess) => {
        if (options.daemon && child.pid) {
            fs.appendFileSync(path.join(dir, "pids"), `${child.pid}\n`);
            child.unref();
        }
    };
    const dns = spawn(path.join(toolDir, "pebble-challtestsrv"), ["-defaultIPv4", options.hostAddress, "-defaultIPv6", "", "-dnsserver", `${gw}:${dnsPort}`, "-management", `${gw}:${dnsManagementPort}`, "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", ""], daemonOptions("challtestsrv"));
    remember(dns);
    dns.stdout?.on("data", (c: Buffer) => (dnsOutput = (dnsOutput + c.toString()).slice(-4000)));
    dns.stderr?.on("data", (c: Buffer) => (dnsOutput = (dnsOutput + c.toString()).slice(-4000)));
    await waitForPort(gw, dnsManagementPort, dns, () => dnsOutput);

    let pebble: ChildProcess | undefined;
    let pebbleOutput = "";
    // Counted as the output arrives: the kept output is only its tail.
    let issued = 0;
    let partialLine = "";
    const startPebble = async () => {
        pebbleOutput = "";
        // No random validation delays, no nonces rejected at random: the tests measure, not fuzz.
        pebble = spawn(path.join(toolDir, "pebble"), ["-config", path.join(dir, "pebble.json"), "-dnsserver", `${gw}:${dnsPort}`], {
            ...daemonOptions("pebble"),
            env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
        });
        remember(pebble);
        const keep = (c: Buffer) => {
            pebbleOutput = (pebbleOutput + c.toString()).slice(-8000);
            const lines = (partialLine + c.toString()).split("\n");
            partialLine = lines.pop() ?? "";
            issued += lines.filter((line) => line.includes("Issued certificate serial")).length;
        };
        pebble.stdout?.on("data", keep);
        pebble.stderr?.on("data", keep);
        const child = pebble;
        await waitForPort(gw, acmePort, child, () => pebbleOutput);
        await waitForPort(gw, managementPort, child, () => pebbleOutput);
    };
    await startPebble();

    return {
        directoryUrl: `https://${gw}:${acmePort}/dir`,
        directoryCa,
        rootCa: () =>
            new Promise((resolve, reject) => {
                https
                    .get({ host: gw, port: managementPort, path: "/roots/0", ca: directoryCa, agent: false }, (res) => {
                        let body = "";
                        res.on("data", (c: Buffer) => (body += c.toString()));
                        res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`pebble /roots/0 answered ${res.statusCode}`))));
                    })
                    .on("error", reject);
            }),
        stopPebble: () => stop(pebble),
        startPebble,
        issuedCertificates: () => issued,
        async close() {
            await stop(pebble);
            await stop(dns);
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}
