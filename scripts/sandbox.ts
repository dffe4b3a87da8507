/**
 * `npm run sandbox`: the main job on a local default. Builds (or reuses) the Pulumi toolchain and a
 * sandbox host on this machine, starts a GitHub stand-in, and runs `pulumi up` of this program
 * against the host with a local file backend. `npm run sandbox -- --down` removes all of it.
 */
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { LocalWorkspace } from "@pulumi/pulumi/automation";
import { hostDown, hostUp } from "../sandbox/hostInstance";
import { sandboxStack } from "../sandbox/stack";
import { sandboxServerNames } from "../sandbox/acme/environment";
import { startSandboxAcme, stopSandboxAcmeDaemons } from "../sandbox/acme/pebble";
import { cacheDir, repoRoot } from "../toolchain/env";

// Another name (and SELFPAGES_SANDBOX_STATE) runs a second sandbox beside the usual one: the tests do.
const name = process.env.SELFPAGES_SANDBOX_NAME ?? "sandbox";
const repository = "selfpages/site";
const stateDir = process.env.SELFPAGES_SANDBOX_STATE ?? path.join(cacheDir, "sandbox-stack");
const standinPidFile = path.join(stateDir, "github-standin.pid");
const standinInfoFile = path.join(stateDir, "github-standin.json");
const acmeDir = path.join(stateDir, "acme");

function stopStandin(): void {
    if (!fs.existsSync(standinPidFile)) return;
    const pid = Number(fs.readFileSync(standinPidFile, "utf8"));
    try {
        process.kill(-pid, "SIGTERM");
    } catch {
        // already gone
    }
    fs.rmSync(standinPidFile, { force: true });
    fs.rmSync(standinInfoFile, { force: true });
}

function runningStandin(): string | undefined {
    if (!fs.existsSync(standinPidFile) || !fs.existsSync(standinInfoFile)) return undefined;
    try {
        process.kill(Number(fs.readFileSync(standinPidFile, "utf8")), 0);
    } catch {
        return undefined;
    }
    return (JSON.parse(fs.readFileSync(standinInfoFile, "utf8")) as { apiUrl: string }).apiUrl;
}

/**
 * Starts the GitHub stand-in as a daemon that outlives this script; returns its API URL. A second
 * `npm run sandbox` keeps the running one: its hooks live in its memory, and the stack's hook
 * points at its URL.
 */
async function startStandin(token: string, extraArgs: string[] = []): Promise<string> {
    const running = runningStandin();
    if (running) return running;
    stopStandin();
    const tokenFile = path.join(stateDir, "github-token");
    fs.writeFileSync(tokenFile, token, { mode: 0o600 });
    const log = fs.openSync(path.join(stateDir, "github-standin.log"), "a");
    const child = spawn(path.join(repoRoot, "node_modules", ".bin", "tsx"), [path.join(repoRoot, "sandbox", "github", "main.ts"), "--host", "127.0.0.1", "--port", "0", "--token-file", tokenFile, "--repo", repository, "--state-file", standinInfoFile, ...extraArgs], {
        detached: true,
        stdio: ["ignore", "ignore", log],
    });
    child.unref();
    fs.writeFileSync(standinPidFile, String(child.pid));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
        if (fs.existsSync(standinInfoFile)) return (JSON.parse(fs.readFileSync(standinInfoFile, "utf8")) as { apiUrl: string }).apiUrl;
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the GitHub stand-in did not start; see ${path.join(stateDir, "github-standin.log")}`);
}

async function down(): Promise<void> {
    stopStandin();
    stopSandboxAcmeDaemons(acmeDir);
    hostDown(name);
    fs.rmSync(path.join(repoRoot, `Pulumi.${name}.yaml`), { force: true });
    fs.rmSync(stateDir, { recursive: true, force: true });
    console.log("sandbox removed: host, namespace, mounts, processes, stand-in and stack state");
}

async function up(): Promise<void> {
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    console.log("sandbox: starting the host (the first run builds a Debian rootfs, about 2 minutes)");
    const host = hostUp(name);
    const tokenFile = path.join(stateDir, "github-token");
    const token = fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, "utf8") : `ghp_${crypto.randomBytes(18).toString("hex")}`;
    const acme = withTls ? await startAcme(host.gatewayAddress, host.address) : undefined;
    const apiUrl = await startStandin(token, acme ? ["--delivery-ca-file", acme.rootFile, ...sandboxServerNames.map((n) => `--delivery-resolve=${n}=${host.address}`)] : []);
    const tlsConfig: Record<string, string> = acme ? { tls: "acme", tlsAcmeDirectoryUrl: acme.directoryUrl, tlsCaBundle: acme.directoryCa, tlsContactEmail: "webmaster@example.com" } : {};
    const stack = await sandboxStack({ stackName: name, host, stateDir, githubApiUrl: apiUrl, githubToken: token, repository, config: tlsConfig });
    if (acme) {
        for (const [i, n] of sandboxServerNames.entries()) await stack.setConfig(`selfpages:siteServerNames[${i}]`, { value: n }, true);
        // The preflight resolves the names through the DNS pebble uses.
        (stack.workspace as LocalWorkspace).envVars.SELFPAGES_DNS_SERVER = `${host.gatewayAddress}:8053`;
    }
    const result = await stack.up({ onOutput: (line) => process.stdout.write(line) });
    const outputs = await stack.outputs();
    const siteUrl = String(outputs.siteUrl?.value);
    // The names exist in pebble-challtestsrv's DNS only, and the chain ends in pebble's root.
    const curl = acme ? `curl --cacert ${acme.rootFile} ${sandboxServerNames.map((n) => `--resolve ${n}:443:${host.address}`).join(" ")} ` : "curl ";
    console.log(`
sandbox is up (${result.summary.result}).
  site:            ${siteUrl}
  webhook:         ${String(outputs.webhookUrl?.value)}
  GitHub stand-in: ${apiUrl}  (token in ${tokenFile})${
      acme
          ? `
  ACME server:     pebble at ${acme.directoryUrl}; its root (the chain's end): ${acme.rootFile}
  trust it with curl: ${curl}-sI ${siteUrl}`
          : ""
  }
${publishHints(host.originPath, apiUrl, siteUrl, curl)}
Run pulumi on the sandbox stack yourself:
${pulumiHints()}

Remove everything: npm run sandbox -- --down`);
}

/**
 * What to type to publish a change as GitHub would deliver it. Runs as printed on a fresh machine
 * (a test runs it): a new directory each time, a git identity for the commit only, and a wait for
 * the deploy, which lands a few hundred milliseconds after the delivery is answered.
 */
function publishHints(originPath: string, apiUrl: string, siteUrl: string, curl = "curl "): string {
    return `
Publish a change, as GitHub Pages would receive it:
  site=$(mktemp -d) && git clone -q -b gh-pages ${originPath} "$site" && cd "$site"
  echo "<p>hello</p>" > hello.html && git add hello.html
  git -c user.name=you -c user.email=you@example.org commit -q -m hello && git push -q
  curl -s -X POST '${apiUrl}/_standin/repos/${repository}/push?format=line' -d "{\\"ref\\": \\"refs/heads/gh-pages\\", \\"after\\": \\"$(git rev-parse HEAD)\\"}"
  # The receiver answers at once and deploys in the background: wait for the page (10 s at most).
  for i in $(seq 50); do ${curl}-sf ${siteUrl}hello.html && break; sleep 0.2; done
`;
}

/** The project's own Pulumi (npm run pulumi), pointed at the sandbox stack's backend and passphrase. */
function pulumiHints(): string {
    return `  cd ${repoRoot}
  export PULUMI_BACKEND_URL=file://${path.join(stateDir, "backend")} PULUMI_CONFIG_PASSPHRASE_FILE=${path.join(stateDir, "passphrase")}
  npm run -s pulumi -- preview --stack ${name}`;
}

/**
 * pebble and its DNS as daemons on the host's gateway, kept across runs (a new pebble would have a
 * new root, and the served certificate would no longer chain to what the stand-in trusts).
 */
async function startAcme(gatewayAddress: string, hostAddress: string): Promise<{ directoryUrl: string; directoryCa: string; rootFile: string }> {
    const infoFile = path.join(acmeDir, "info.json");
    const pidFile = path.join(acmeDir, "pids");
    const alive = fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").split("\n").filter((l) => l !== "").every((pid) => {
        try {
            process.kill(Number(pid), 0);
            return true;
        } catch {
            return false;
        }
    });
    if (alive && fs.existsSync(infoFile)) return JSON.parse(fs.readFileSync(infoFile, "utf8")) as { directoryUrl: string; directoryCa: string; rootFile: string };
    stopSandboxAcmeDaemons(acmeDir);
    fs.rmSync(acmeDir, { recursive: true, force: true });
    const acme = await startSandboxAcme({ gatewayAddress, hostAddress, workDir: acmeDir, daemon: true });
    const rootFile = path.join(acmeDir, "root.pem");
    fs.writeFileSync(rootFile, await acme.rootCa());
    const info = { directoryUrl: acme.directoryUrl, directoryCa: acme.directoryCa, rootFile };
    fs.writeFileSync(infoFile, JSON.stringify(info));
    return info;
}

const { values } = parseArgs({ options: { down: { type: "boolean", default: false }, tls: { type: "boolean", default: false } } });
const withTls = values.tls;
(values.down ? down() : up()).catch((error: unknown) => {
    console.error(`sandbox: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
});
