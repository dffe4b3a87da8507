import * as crypto from "node:crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { DynamicResource } from "./providers/dynamicResource";
import { shellQuote } from "./templates";

/** How every step reaches the host: @pulumi/command's SSH connection, with the host key pinned. */
export type Connection = command.types.input.remote.ConnectionArgs;

/**
 * Stacks made by selfpages 0.1 hold each host step as a dynamic-provider resource
 * (`pulumi-nodejs:dynamic/selfpages:RemoteCommand`, same name and parent as the step here). They
 * cannot be aliased to the command resources: the engine would then hand their state, which holds
 * the dynamic provider's `__provider`, to the command provider, and @pulumi/command 1.2.1 refuses
 * it ("Unrecognized field '__provider' on 'remote.CommandOutputs'") in Update and Delete alike.
 * Left alone, they would be deleted after this release's steps ran, with 0.1's delete scripts (rm
 * -rf of the site, `crontab -r`, stopping the receiver). So every step that has a delete script
 * keeps its 0.1 address with a marker whose provider never touches the host: the first `up` of
 * this release replaces the step's 0.1 state (scripts, connection) with nothing, and the marker is
 * retainOnDelete, so dropping it in a later release only removes it from the state; but a stack
 * coming straight from 0.1 to a release without markers would run 0.1's delete scripts, so they
 * stay while such stacks may exist. 0.1 steps without a delete script are deleted by their own
 * provider, which does nothing for them.
 * The command resources themselves are created: every create script here can run on a host
 * that a previous release set up.
 */
export const legacyModule = "selfpages";
export const legacyStepType = "RemoteCommand";

/** Module-level so that the marker's serialized provider captures nothing else. */
export const retiredStepProvider: pulumi.dynamic.ResourceProvider = {
    // On a stack that never ran 0.1 there is nothing to retire: the marker holds nothing.
    async create() {
        return { id: "retired", outs: {} };
    },
    // A 0.1 step still holds its scripts and connection (private key included): drop them once.
    async diff(_id: string, olds: Record<string, unknown>) {
        return { changes: Object.keys(olds).some((key) => key !== "__provider") };
    },
    async update() {
        return { outs: {} };
    },
    async delete() {
        // Never the 0.1 delete script: the host is not touched.
    },
};

/** The 0.1 steps that had a delete script, by name (their parents are the same components here). */
const legacyStepsWithDelete = new Set([
    "selfpages-account-user",
    "selfpages-site-directories",
    "selfpages-site-sync-script",
    "selfpages-nginx-park-default-site",
    "selfpages-nginx-site-config",
    "selfpages-receiver-hooks",
    "selfpages-receiver-openrc-service",
    "selfpages-receiver-service",
    "selfpages-cron-crontab",
]);

class RetiredLegacyStep extends DynamicResource {
    constructor(name: string, parent: pulumi.Resource | undefined) {
        super(retiredStepProvider, name, {}, { parent, retainOnDelete: true }, legacyModule, legacyStepType);
    }
}

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
 * One step on the host: a `command.remote.Command` whose stdin (and connection) stay secret. A step
 * that selfpages 0.1 had, with a delete script, also keeps its 0.1 address retired (see
 * RetiredLegacyStep).
 */
export function hostCommand(name: string, args: HostCommandArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const { secretStdout, ...commandArgs } = args;
    if (legacyStepsWithDelete.has(name)) new RetiredLegacyStep(name, opts.parent);
    return new command.remote.Command(
        name,
        secretStdout ? { ...commandArgs, logging: "none" } : commandArgs,
        {
            ...opts,
            additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), "connection", "stdin", ...(secretStdout ? ["stdout"] : [])],
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
export function installFileScript(args: Pick<HostFileArgs, "path" | "mode" | "owner" | "group" | "validate">): string {
    const lines = [
        "set -eu",
        `target=${shellQuote(args.path)}`,
        'mkdir -p "$(dirname "$target")"',
        'tmp=$(mktemp "$target.XXXXXX")',
        "trap 'rm -f \"$tmp\"' EXIT",
        'cat > "$tmp"',
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
    return hostCommand(name, { connection: args.connection, create: script, update: script, delete: `rm -f ${shellQuote(args.path)}`, stdin: args.content }, opts);
}
