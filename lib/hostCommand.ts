import * as crypto from "node:crypto";
import * as zlib from "node:zlib";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { shellQuote } from "./templates";

/** How every step reaches the host: @pulumi/command's SSH connection, with the host key pinned. */
export type Connection = command.types.input.remote.ConnectionArgs;

export interface HostCommandArgs {
    connection: pulumi.Input<Connection>;
    create: pulumi.Input<string>;
    /** Run when an input other than `triggers` changes; defaults to `create`. */
    update?: pulumi.Input<string>;
    delete?: pulumi.Input<string>;
    /** Content and secrets travel here: never on a command line, where `ps` on the host shows them. */
    stdin?: pulumi.Input<string>;
    /** Any change replaces the resource: the delete script, then (or before) the create script. */
    triggers?: pulumi.Input<unknown>[];
    /** The command prints a secret: its stdout is a secret output and is never logged. */
    secretStdout?: boolean;
}

/**
 * One step on the host: a `command.remote.Command` whose connection stays secret. A secret stdin
 * stays secret in its output too (the engine marks an output secret when the input of that name
 * is); content that is not secret is not encrypted in the output either, as it is plain in the
 * step's inputs anyway (and a fleet's whole state is written after each step).
 */
export function hostCommand(name: string, args: HostCommandArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const { secretStdout, update, ...rest } = args;
    // An update that is the create script is left out: the provider runs create on an update
    // without one, and every script is kept twice per step in the state (inputs and outputs).
    const commandArgs = update === undefined || update === args.create ? rest : { ...rest, update };
    return new command.remote.Command(
        name,
        secretStdout ? { ...commandArgs, logging: "none" } : commandArgs,
        {
            ...opts,
            additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), "connection", ...(secretStdout ? ["stdout"] : [])],
        },
    );
}

export interface HostFileArgs {
    connection: pulumi.Input<Connection>;
    path: string;
    content: pulumi.Input<string>;
    mode: string;
    owner: string;
    group: string;
    /**
     * A command that checks the file once it is in place (`nginx -t`): on failure the previous
     * content is restored and the update fails, so a bad render never stays on the host.
     */
    validate?: string;
    /**
     * The content travels gzip-compressed, base64-encoded: a step's stdin is stored in the stack's
     * state twice (its inputs and its outputs), once per server, and the engine writes the whole
     * state after every step of an `up`. The sync program alone was a third of a server's state.
     * The host decompresses with gzip and base64 (busybox on Alpine, coreutils on Debian).
     */
    compressed?: boolean;
}

export function sha256(content: string): string {
    return crypto.createHash("sha256").update(content).digest("hex");
}

/** Hash of content that may be secret: the hash itself stays secret in state. */
export function contentHash(content: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.output(content).apply(sha256);
}

/**
 * The script that installs a file whose content arrives on stdin: content never appears on a
 * command line, and the file appears atomically with its final mode and owner (rename(2) of a
 * temporary file created 0600 in the same directory).
 */
export function installFileScript(args: Pick<HostFileArgs, "path" | "mode" | "owner" | "group" | "validate" | "compressed">): string {
    const lines = [
        "set -eu",
        `target=${shellQuote(args.path)}`,
        'mkdir -p "$(dirname "$target")"',
        'tmp=$(mktemp "$target.XXXXXX")',
        "trap 'rm -f \"$tmp\"' EXIT",
        args.compressed ? 'base64 -d | gzip -dc > "$tmp"' : 'cat > "$tmp"',
        `chown ${shellQuote(`${args.owner}:${args.group}`)} "$tmp"`,
        `chmod ${args.mode} "$tmp"`,
    ];
    if (args.validate) {
        lines.push(
            'backup=""',
            'if [ -e "$target" ]; then backup=$(mktemp "$target.XXXXXX"); cp -p "$target" "$backup"; fi',
            'mv -f "$tmp" "$target"',
            `if ! ${args.validate}; then`,
            '  if [ -n "$backup" ]; then mv -f "$backup" "$target"; else rm -f "$target"; fi',
            `  echo "selfpages: ${args.path} rejected by: ${args.validate.replace(/"/g, "'")}; previous content restored" >&2`,
            "  exit 1",
            "fi",
            'if [ -n "$backup" ]; then rm -f "$backup"; fi',
        );
    } else {
        lines.push('mv -f "$tmp" "$target"');
    }
    return lines.join("\n");
}

/**
 * A file on the host, installed by a command that reads it from stdin (CopyToRemote has neither
 * mode, owner, atomic replacement nor a delete). A content change is an in-place update, never a
 * delete-then-create, so the file is never missing; `pulumi destroy` removes it.
 */
export function hostFile(name: string, args: HostFileArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const script = installFileScript(args);
    const stdin = args.compressed ? (typeof args.content === "string" ? gzipBase64(args.content) : pulumi.output(args.content).apply(gzipBase64)) : args.content;
    return hostCommand(name, { connection: args.connection, create: script, update: script, delete: `rm -f ${shellQuote(args.path)}`, stdin }, opts);
}

/** Deterministic (zlib's gzip header holds no time), so unchanged content is an unchanged input. */
export function gzipBase64(content: string): string {
    return `${zlib.gzipSync(content, { level: 9 }).toString("base64")}\n`;
}
