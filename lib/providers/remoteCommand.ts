import * as pulumi from "@pulumi/pulumi";

/**
 * A command run on the host over SSH, as a resource: the same shape and lifecycle as
 * @pulumi/command's remote.Command (create/update/delete scripts, stdin, triggers that replace,
 * a pinned host key). It is a dynamic provider on ssh2 because the command provider plugin cannot
 * be built offline here (see README, "Why not @pulumi/command"); the engine, SSH and host are real.
 */
export interface ConnectionArgs {
    host: string;
    port: number;
    user: string;
    privateKey: string;
    /** Pinned host key line ("ssh-ed25519 AAAA..."): any other key aborts before authentication. */
    hostKey: string;
    /** Attempts while the host does not answer yet (a booting VM); a key mismatch is never retried. */
    dialErrorLimit?: number;
    perDialTimeout?: number;
}

export interface RemoteCommandInputs {
    connection: ConnectionArgs;
    create: string;
    /** Run when create/update/stdin change; defaults to `create`. */
    update?: string;
    delete?: string;
    stdin?: string;
    /** Any change replaces the resource (delete, then create with deleteBeforeReplace). */
    triggers?: unknown[];
}

export interface RemoteCommandOutputs extends RemoteCommandInputs {
    stdout: string;
    stderr: string;
}

type Args = {
    connection: pulumi.Input<ConnectionArgs>;
    create: pulumi.Input<string>;
    update?: pulumi.Input<string>;
    delete?: pulumi.Input<string>;
    stdin?: pulumi.Input<string>;
    triggers?: pulumi.Input<unknown>[];
};

/**
 * Runs one script on the host. Module-level so the provider's serialized closure captures only
 * this function; ssh2 is required inside it so the closure holds no module object.
 */
async function runOnHost(connection: ConnectionArgs, script: string, stdin: string | undefined): Promise<{ stdout: string; stderr: string }> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Client } = require("ssh2") as typeof import("ssh2");
    const pinned = connection.hostKey.trim().split(/\s+/)[1] ?? "";
    const attempts = Math.max(1, connection.dialErrorLimit ?? 10);

    const dial = () =>
        new Promise<import("ssh2").Client>((resolve, reject) => {
            const client = new Client();
            let mismatch: Error | undefined;
            client
                .on("ready", () => resolve(client))
                .on("error", (error: Error) => reject(mismatch ?? error))
                .connect({
                    host: connection.host,
                    port: connection.port,
                    username: connection.user,
                    privateKey: connection.privateKey,
                    readyTimeout: (connection.perDialTimeout ?? 15) * 1000,
                    hostVerifier: (key: Buffer) => {
                        if (key.toString("base64") === pinned) return true;
                        mismatch = Object.assign(new Error(`host key mismatch for ${connection.host}:${connection.port}: the server presented another key than the pinned ${connection.hostKey.split(/\s+/)[0]}; refusing to connect`), { hostKeyMismatch: true });
                        return false;
                    },
                });
        });

    let client: import("ssh2").Client | undefined;
    for (let attempt = 1; !client; attempt++) {
        try {
            client = await dial();
        } catch (error) {
            if ((error as { hostKeyMismatch?: boolean }).hostKeyMismatch || attempt >= attempts) throw error;
            await new Promise((resolve) => setTimeout(resolve, 1000));
        }
    }
    const session = client;
    try {
        return await new Promise((resolve, reject) => {
            session.exec(script, (error, channel) => {
                if (error) return reject(error);
                let stdout = "";
                let stderr = "";
                channel.on("data", (d: Buffer) => (stdout += d.toString()));
                channel.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
                channel.on("close", (code: number | null) => {
                    if (code === 0) return resolve({ stdout, stderr });
                    const tail = stderr.trim().split("\n").slice(-5).join("\n");
                    reject(new Error(`command on ${connection.host} exited with ${code}${tail ? `: ${tail}` : ""}`));
                });
                channel.end(stdin ?? "");
            });
        });
    } finally {
        session.end();
    }
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export const remoteCommandProvider: pulumi.dynamic.ResourceProvider<RemoteCommandInputs, RemoteCommandOutputs> = {
    async diff(_id, olds, news) {
        const replaces = sameJson(olds.triggers, news.triggers) ? [] : ["triggers"];
        const changed = (["create", "update", "delete", "stdin"] as const).filter((k) => (olds[k] ?? "") !== (news[k] ?? ""));
        // A new key or address for the same host changes how we reach it, not what runs there.
        if (!sameJson(olds.connection, news.connection)) changed.push("connection" as never);
        return { changes: replaces.length + changed.length > 0, replaces };
    },

    async create(inputs) {
        const { stdout, stderr } = await runOnHost(inputs.connection, inputs.create, inputs.stdin);
        return { id: `${inputs.connection.host}:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`, outs: { ...inputs, stdout, stderr } };
    },

    async update(_id, olds, news) {
        const rerun = (["create", "update", "stdin"] as const).some((k) => (olds[k] ?? "") !== (news[k] ?? ""));
        if (!rerun) return { outs: { ...news, stdout: olds.stdout, stderr: olds.stderr } };
        const { stdout, stderr } = await runOnHost(news.connection, news.update ?? news.create, news.stdin);
        return { outs: { ...news, stdout, stderr } };
    },

    async delete(_id, props) {
        if (props.delete) await runOnHost(props.connection, props.delete, undefined);
    },
};

export class RemoteCommand extends pulumi.dynamic.Resource {
    declare public readonly stdout: pulumi.Output<string>;
    declare public readonly stderr: pulumi.Output<string>;
    declare public readonly stdin: pulumi.Output<string | undefined>;

    constructor(name: string, args: Args, opts?: pulumi.CustomResourceOptions) {
        super(
            remoteCommandProvider,
            name,
            { stdout: undefined, stderr: undefined, update: undefined, delete: undefined, stdin: undefined, triggers: undefined, ...args },
            // The connection holds the private key; stdin may hold a rendered secret.
            { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection", "stdin"] },
            "selfpages",
            "RemoteCommand",
        );
    }
}
