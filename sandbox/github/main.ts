/**
 * Runs the GitHub stand-in on its own (scripts/sandbox.ts starts it this way):
 *   tsx sandbox/github/main.ts --host 127.0.0.1 --port 0 --token-file F [--deployments-token-file F2] --repo owner/name [--repo ...] [--state-file out.json]
 * Once listening it prints {"apiUrl": "..."} as one line on stdout (and writes {"apiUrl", "pid"}
 * to --state-file); logs go to stderr; SIGTERM or SIGINT stops it. Simulate a push from a shell:
 *   curl -s -X POST "$apiUrl/_standin/repos/OWNER/NAME/push" -H 'content-type: application/json' \
 *        -d '{"ref": "refs/heads/gh-pages", "after": "<40-hex sha>"}'
 *   curl -s "$apiUrl/_standin/deliveries"
 */
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { startGitHubStandin } from "./server";

const usage = "usage: tsx sandbox/github/main.ts --token-file F [--deployments-token-file F] --repo owner/name [--repo ...] [--host 127.0.0.1] [--port 0] [--state-file F] [--delivery-ca-file F] [--delivery-resolve NAME=ADDRESS ...]";

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            host: { type: "string", default: "127.0.0.1" },
            port: { type: "string", default: "0" },
            "token-file": { type: "string" },
            "deployments-token-file": { type: "string" },
            repo: { type: "string", multiple: true },
            "state-file": { type: "string" },
            // https:// hooks (the sandbox's ACME certificates): the CA to verify against, and NAME=ADDRESS.
            "delivery-ca-file": { type: "string" },
            "delivery-resolve": { type: "string", multiple: true },
            help: { type: "boolean" },
        },
    });
    if (values.help) {
        console.log(usage);
        return;
    }
    const port = Number(values.port);
    if (!values["token-file"] || !values.repo?.length || !Number.isInteger(port) || port < 0 || port > 65535) {
        console.error(usage);
        process.exit(2);
    }
    const token = fs.readFileSync(values["token-file"], "utf8").trim();
    const deploymentsTokenFile = values["deployments-token-file"];
    const standin = await startGitHubStandin({
        host: values.host,
        port,
        token,
        deploymentsToken: deploymentsTokenFile ? fs.readFileSync(deploymentsTokenFile, "utf8").trim() : undefined,
        repositories: values.repo,
        log: (line) => console.error(`${new Date().toISOString()} ${line}`),
        deliveryTls: {
            ca: values["delivery-ca-file"] ? fs.readFileSync(values["delivery-ca-file"], "utf8") : undefined,
            hosts: Object.fromEntries((values["delivery-resolve"] ?? []).map((entry) => entry.split("=", 2) as [string, string])),
        },
    });
    const stateFile = values["state-file"];
    if (stateFile) {
        // Whole or absent: a reader polling for the file never sees half of it.
        fs.writeFileSync(`${stateFile}.tmp`, `${JSON.stringify({ apiUrl: standin.apiUrl, pid: process.pid })}\n`);
        fs.renameSync(`${stateFile}.tmp`, stateFile);
    }
    console.log(JSON.stringify({ apiUrl: standin.apiUrl }));

    let stopping = false;
    const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        console.error(`${new Date().toISOString()} ${signal}: stopping`);
        void standin.close().then(() => process.exit(0));
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
});
