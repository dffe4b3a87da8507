/**
 * `npm run sandbox`: the main job on a local default. Builds (or reuses) the Pulumi toolchain and a
 * sandbox host on this machine (`--servers N`: N hosts on one LAN, the stack a fleet of them),
 * starts a GitHub stand-in, and runs `pulumi up` of this program against the host with a local
 * file backend. `npm run sandbox -- --down` removes all of it.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { buildSandbox, removeSandbox, type SandboxSite } from "../sandbox/build";
import { fileBackendUrl } from "../sandbox/stack";
import { shellQuote } from "../lib/templates";
import { cacheDir, repoRoot } from "../toolchain/env";

// Another name (and SELFPAGES_SANDBOX_STATE) runs a second sandbox beside the usual one: the tests do.
const name = process.env.SELFPAGES_SANDBOX_NAME ?? "sandbox";
const stateDir = process.env.SELFPAGES_SANDBOX_STATE ?? path.join(cacheDir, "sandbox-stack");

async function down(): Promise<void> {
    removeSandbox(name, stateDir);
    console.log("sandbox removed: host, namespace, mounts, processes, stand-in and stack state");
}

async function up(): Promise<void> {
    console.log(`sandbox: starting ${serverCount > 1 ? `${serverCount} hosts` : "the host"} (the first run builds a Debian rootfs, about 2 minutes)`);
    // The stand-in and pebble outlive this script: a second run keeps them (the stack's hook points
    // at the stand-in, and the served certificate chains to this pebble's root).
    const sandbox = await buildSandbox({
        name,
        stateDir,
        tls: withTls,
        daemons: true,
        ...(serverCount > 1 ? { hosts: serverCount, fleet: true } : {}),
        ...(siteCount > 1 ? { sites: sandboxSites(siteCount) } : {}),
    });
    const { host, standin, repository } = sandbox;
    const fleet = sandbox.hosts.length > 1;
    const acme = withTls ? sandbox.acme : undefined;
    const result = await sandbox.stack.up({ onOutput: (line) => process.stdout.write(line) });
    const outputs = await sandbox.stack.outputs();
    const siteUrl = String(outputs.siteUrl?.value ?? sandbox.siteUrl);
    const sites = (outputs.sites?.value ?? {}) as Record<string, { url: string; webhookUrl: string }>;
    const siteLines = Object.entries(sites).map(([site, s]) => `  site ${site}: ${s.url}  (webhook ${s.webhookUrl}${sandbox.sites.length > 0 ? `, origin ${sandbox.originPathOf(sandbox.sites.find((x) => x.name === site)?.repository ?? repository)}` : ""})`);
    // Every server serves every site, each at its address (the stack's `servers`).
    const serverLines = sandbox.hosts.map((h) => `  server ${h.name}:${" ".repeat(Math.max(1, 8 - h.name.length))}${h.address}`);
    // The names exist in pebble-challtestsrv's DNS only (a fleet's, nowhere), and the chain ends in pebble's root.
    const resolve = (port: number) => sandbox.serverNames.map((n) => `--resolve ${n}:${port}:${host.address}`).join(" ");
    const curl = acme ? `curl --cacert ${acme.rootFile} ${resolve(443)} ` : fleet ? `curl ${resolve(80)} ` : "curl ";
    console.log(`
sandbox is up (${result.summary.result}).
  site:            ${siteUrl}
  webhook:         ${String(outputs.webhookUrl?.value)}${siteLines.length > 1 ? `\n${siteLines.join("\n")}\n  (the other sites' names resolve nowhere: curl -H 'Host: NAME' http://${host.address}/ or --resolve)` : ""}${
      fleet ? `\n${serverLines.join("\n")}\n  (the site's names resolve nowhere: curl -H 'Host: ${sandbox.serverNames[0]}' http://ADDRESS/ asks any server)` : ""
  }
  GitHub stand-in: ${standin.apiUrl}  (token in ${standin.tokenFile})${
      acme
          ? `
  ACME server:     pebble at ${acme.directoryUrl}; its root (the chain's end): ${acme.rootFile}
  trust it with curl: ${curl}-sI ${siteUrl}`
          : ""
  }
${publishHints(host.originPath, standin.apiUrl, siteUrl, repository, curl)}
Run pulumi on the sandbox stack yourself:
${pulumiHints(sandbox.stack.workspace.envVars.SELFPAGES_DNS_SERVER)}

Remove everything: npm run sandbox -- --down`);
}

/**
 * What to type to publish a change as GitHub would deliver it. Runs as printed on a fresh machine
 * (a test runs it): a new directory each time, a git identity for the commit only, and a wait for
 * the deploy, which lands a few hundred milliseconds after the delivery is answered.
 */
function publishHints(originPath: string, apiUrl: string, siteUrl: string, repository: string, curl = "curl "): string {
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
function pulumiHints(dnsServer: string | undefined): string {
    // With TLS, the host check resolves the site's names through pebble's DNS, as the sandbox's own `up` does.
    return `  cd ${repoRoot}
  export PULUMI_BACKEND_URL=${shellQuote(fileBackendUrl(path.join(stateDir, "backend")))} PULUMI_CONFIG_PASSPHRASE_FILE=${path.join(stateDir, "passphrase")}${dnsServer ? ` SELFPAGES_DNS_SERVER=${dnsServer}` : ""}
  npm run -s pulumi -- preview --stack ${name}`;
}

/**
 * `--sites N`: the first site as the one-site sandbox has it, then a project site under it
 * (/docs/, published from its repository's /docs folder), then top-level sites NAME.selfpages.test.
 */
function sandboxSites(count: number): SandboxSite[] {
    return Array.from({ length: count }, (_, i): SandboxSite => {
        if (i === 0) return { name: "main", repository: "selfpages/site" };
        if (i === 1) return { name: "docs", folder: "/docs", parent: "main", path: "docs" };
        return { name: `site${i + 1}` };
    });
}

const { values } = parseArgs({
    options: { down: { type: "boolean", default: false }, tls: { type: "boolean", default: false }, sites: { type: "string", default: "1" }, servers: { type: "string", default: "1" } },
});
const withTls = values.tls;

/** A `--NAME N` count from 1 to 20 (GitHub delivers an event to at most 20 hooks: a fleet's bound too). */
function count(option: "sites" | "servers"): number {
    const n = Number(values[option]);
    if (Number.isInteger(n) && n >= 1 && n <= 20) return n;
    console.error(`sandbox: --${option} must be a whole number from 1 to 20 (got ${JSON.stringify(values[option])})`);
    process.exit(2);
}
const siteCount = count("sites");
const serverCount = count("servers");
(values.down ? down() : up()).catch((error: unknown) => {
    console.error(`sandbox: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
});
