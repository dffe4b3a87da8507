import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { RemoteCommand, type ConnectionArgs } from "./providers/remoteCommand";
import { shellQuote } from "./templates";

export type Connection = ConnectionArgs;

export interface RemoteFileArgs {
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

/**
 * The script that installs a file whose content arrives on stdin: content never appears on a
 * command line, and the file appears atomically with its final mode and owner (rename(2) of a
 * temporary file created 0600 in the same directory).
 */
export function installFileScript(args: Pick<RemoteFileArgs, "path" | "mode" | "owner" | "group" | "validate">): string {
    const target = shellQuote(args.path);
    const lines = [
        "set -eu",
        `target=${target}`,
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
 * A file on the host. A content change is an in-place update (atomic rename), never a
 * delete-then-create, so the file is never missing; `pulumi destroy` removes it.
 * The content travels on stdin and is stored in state as a secret when it is one.
 */
export function remoteFile(name: string, args: RemoteFileArgs, opts: pulumi.CustomResourceOptions): RemoteCommand {
    const script = installFileScript(args);
    return new RemoteCommand(
        name,
        {
            connection: args.connection,
            create: script,
            update: script,
            delete: `rm -f ${shellQuote(args.path)}`,
            stdin: args.content,
        },
        opts,
    );
}

/** Hash of content that may be secret: the hash itself stays secret in state. */
export function contentHash(content: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.output(content).apply(sha256);
}
