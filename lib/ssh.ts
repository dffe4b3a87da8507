import type * as command from "@pulumi/command";
import { Client, utils } from "ssh2";
import type { Settings } from "./config";

/**
 * How to reach the host over SSH: the one target type, with the field names of @pulumi/command's
 * connection, which every step of `up` uses. The rest (preflight, tests) goes through SshSession.
 */
export interface SshTarget {
    host: string;
    port: number;
    user: string;
    privateKey: string;
    /** Pinned host key line ("ssh-ed25519 AAAA..."): any other key aborts the handshake. */
    hostKey: string;
}

export function sshTarget(settings: Settings, privateKey: string): SshTarget {
    return { host: settings.host.address, port: settings.host.port, user: settings.host.user, privateKey, hostKey: settings.host.hostKey };
}

/**
 * The key in the shortest PEM form its type has, the same key: PKCS#8 for Ed25519 (118 bytes
 * against the OpenSSH format's 399), PKCS#1 or SEC1 for RSA and ECDSA. @pulumi/command keeps the
 * whole connection, key included, encrypted in the inputs and outputs of every step, and the file
 * backend rewrites the whole state after each step: the key was a sixth of a five-server state.
 * A key ssh2 cannot read without a passphrase is kept as given.
 */
export function compactPrivateKey(privateKey: string): string {
    const parsed = utils.parseKey(privateKey);
    if (parsed instanceof Error) return privateKey;
    const pem = parsed.getPrivatePEM();
    return pem.length < privateKey.trim().length ? pem : privateKey;
}

/**
 * The target as @pulumi/command's connection. Its provider checks the pinned key (hostKey) as
 * SshSession does, before authentication; a freshly booted VM may take a while to accept SSH.
 */
export function commandConnection(target: SshTarget): command.types.input.remote.ConnectionArgs {
    return { ...target, privateKey: compactPrivateKey(target.privateKey), dialErrorLimit: 30, perDialTimeout: 10 };
}

export class HostKeyMismatchError extends Error {
    constructor(target: SshTarget, presented: string) {
        super(`host key mismatch for ${target.host}:${target.port}: the server presented ${presented}, the stack pins ${target.hostKey.split(" ").slice(0, 2).join(" ")}; nothing was changed`);
        this.name = "HostKeyMismatchError";
    }
}

/** The base64 blob of an authorized_keys-style line. */
const keyBlob = (line: string) => line.trim().split(/\s+/)[1] ?? "";

/**
 * An SSH session to the host, with the host key checked against the pinned one before any
 * authentication, for the preflight and for tests that read the host's real state.
 */
export class SshSession {
    private constructor(private readonly client: Client) {}

    static connect(target: SshTarget, timeoutMs = 15_000): Promise<SshSession> {
        return new Promise((resolve, reject) => {
            const client = new Client();
            let mismatch: HostKeyMismatchError | undefined;
            client
                .on("ready", () => resolve(new SshSession(client)))
                .on("error", (error) => reject(mismatch ?? new Error(`cannot reach ${target.user}@${target.host}:${target.port} over SSH: ${error.message}`)))
                .connect({
                    host: target.host,
                    port: target.port,
                    username: target.user,
                    privateKey: target.privateKey,
                    readyTimeout: timeoutMs,
                    hostVerifier: (key: Buffer) => {
                        const presented = key.toString("base64");
                        if (presented === keyBlob(target.hostKey)) return true;
                        mismatch = new HostKeyMismatchError(target, `a key with blob ${presented.slice(0, 24)}...`);
                        return false;
                    },
                })
                // Each authentication message is small and waits for the previous one's answer:
                // with Nagle's algorithm, every one of them also waited for the server's delayed
                // ACK (40 ms each on Linux): 0.26 s to connect and run `true` on a sandbox host,
                // 0.06 s without (2026-12-05). @pulumi/command's Go client sets it too.
                .setNoDelay(true);
        });
    }

    /** Runs a command; the script goes on stdin so nothing in it shows up in `ps` on the host. */
    exec(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
        return new Promise((resolve, reject) => {
            this.client.exec("sh -s", (error, channel) => {
                if (error) return reject(error);
                let stdout = "";
                let stderr = "";
                channel.on("data", (d: Buffer) => (stdout += d.toString()));
                channel.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
                channel.on("close", (code: number | null) => resolve({ code: code ?? -1, stdout, stderr }));
                channel.end(`${script}\n`);
            });
        });
    }

    close(): void {
        this.client.end();
    }
}
