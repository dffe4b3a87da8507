import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../toolchain/env";

/** What sandbox/host/up.sh records about a running sandbox host. */
export interface SandboxHost {
    name: string;
    address: string;
    port: number;
    user: string;
    privateKeyPath: string;
    publicKey: string;
    hostKey: string;
    gatewayAddress: string;
    originUrl: string;
    originPath: string;
    rootfs: string;
    netns: string;
}

const script = (name: string) => path.join(repoRoot, "sandbox", "host", name);

export function hostUp(name: string, env: Record<string, string> = {}): SandboxHost {
    const out = execFileSync("bash", [script("up.sh"), name], { encoding: "utf8", env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 });
    const file = out.trim().split("\n").pop() ?? "";
    return JSON.parse(fs.readFileSync(file, "utf8")) as SandboxHost;
}

export function hostDown(name: string): void {
    execFileSync("bash", [script("down.sh"), name], { stdio: ["ignore", "inherit", "inherit"] });
}

/**
 * Puts the host on LAN `lan` (a bridge in namespace lanNetns(lan)), where it reaches the other hosts
 * on it at their addresses and they reach it at its own (lan.sh). Idempotent; down.sh takes it off.
 */
export function hostJoinLan(name: string, lan: string): void {
    execFileSync("bash", [script("lan.sh"), name, "join", lan], { stdio: ["ignore", "inherit", "inherit"] });
}

/** The network namespace holding LAN `lan`'s bridge. */
export const lanNetns = (lan: string) => `spl-${lan}`;

/** Runs a shell command inside the host as root (outside SSH: for faults and inspection). */
export function hostExec(name: string, command: string): string {
    return execFileSync("bash", [script("exec.sh"), name, "sh", "-c", command], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export function privateKeyOf(host: SandboxHost): string {
    return fs.readFileSync(host.privateKeyPath, "utf8");
}

/** Makes the host's git origin unreachable (stop) or reachable again (start). */
export function originDaemon(name: string, action: "start" | "stop"): void {
    execFileSync("bash", [script("origin-daemon.sh"), name, action], { stdio: ["ignore", "inherit", "inherit"] });
}

/** A reboot: every service stops, every process but PID 1 dies, the default runlevel starts again. */
export function hostRestart(name: string): void {
    execFileSync("bash", [script("restart.sh"), name], { stdio: ["ignore", "inherit", "inherit"] });
}
