/**
 * Runs the GitHub stand-in on its own:
 *   tsx sandbox/github/main.ts --host 127.0.0.1 --port 0 --token-file F --repo owner/name [--state-file out.json]
 * Prints {"apiUrl": ...} on stdout once listening (and writes it to --state-file); logs to stderr;
 * stops on SIGTERM. Simulate a push: POST /_standin/repos/OWNER/NAME/push {"ref", "after"}.
 */
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { startGitHubStandin } from "./server";

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            host: { type: "string", default: "127.0.0.1" },
            port: { type: "string", default: "0" },
            "token-file": { type: "string" },
            repo: { type: "string", multiple: true },
            "state-file": { type: "string" },
        },
    });
    if (!values["token-file"] || !values.repo?.length) {
        console.error("usage: main.ts --token-file F --repo owner/name [--host H] [--port P] [--state-file F]");
        process.exit(2);
    }
    const standin = await startGitHubStandin({
        host: values.host,
        port: Number(values.port),
        token: fs.readFileSync(values["token-file"], "utf8").trim(),
        repositories: values.repo,
        log: (line) => console.error(`${new Date().toISOString()} ${line}`),
    });
    const info = JSON.stringify({ apiUrl: standin.apiUrl, pid: process.pid });
    if (values["state-file"]) fs.writeFileSync(values["state-file"], `${info}\n`);
    console.log(info);
    const stop = () => void standin.close().then(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}

void main();
