import * as fs from "node:fs";
import * as path from "node:path";
import { startSandboxAcme, stopSandboxAcmeDaemons } from "./pebble";

/** pebble and its DNS as daemons (`npm run sandbox -- --tls`): what the stack and a user's curl need. */
export interface AcmeDaemon {
    directoryUrl: string;
    directoryCa: string;
    /** The root pebble's certificates chain to, for `curl --cacert`. */
    rootFile: string;
}

const alive = (pidFile: string) =>
    fs.existsSync(pidFile) &&
    fs
        .readFileSync(pidFile, "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .every((pid) => {
            try {
                process.kill(Number(pid), 0);
                return true;
            } catch {
                return false;
            }
        });

/**
 * Starts pebble and challtestsrv detached on the gateway, or keeps the running pair: a new pebble
 * would have a new root, and the served certificate would no longer chain to what the stand-in trusts.
 */
export async function startAcmeDaemon(options: { workDir: string; gatewayAddress: string; hostAddress: string }): Promise<AcmeDaemon> {
    const infoFile = path.join(options.workDir, "info.json");
    if (alive(path.join(options.workDir, "pids")) && fs.existsSync(infoFile)) return JSON.parse(fs.readFileSync(infoFile, "utf8")) as AcmeDaemon;
    stopSandboxAcmeDaemons(options.workDir);
    fs.rmSync(options.workDir, { recursive: true, force: true });
    const acme = await startSandboxAcme({ ...options, daemon: true });
    const rootFile = path.join(options.workDir, "root.pem");
    fs.writeFileSync(rootFile, await acme.rootCa());
    const info: AcmeDaemon = { directoryUrl: acme.directoryUrl, directoryCa: acme.directoryCa, rootFile };
    fs.writeFileSync(infoFile, JSON.stringify(info));
    return info;
}
