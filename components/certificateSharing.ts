import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions, componentOptions } from "../lib/options";
import type { ServerSettings, Settings, TlsSettings } from "../lib/config";
import {
    certExportConfigFile,
    certExportScriptFile,
    certPullAuthorizedKey,
    certPullConfigFile,
    certPullJobFile,
    certPullKeyMarker,
    certPullKnownHostsFile,
    certPullScriptFile,
} from "../lib/hostFiles";
import { hostCommand, hostFile, type Connection } from "../lib/hostCommand";
import { shellQuote } from "../lib/templates";

/*
 * A fleet's certificates: the lead (the first server) alone orders and renews them, so the CA sees
 * one order per certificate per renewal; each peer fetches them from the lead over SSH, at `up`
 * and every 15 minutes, so a renewal reaches it without a `pulumi up`. The peer's key is made on
 * the peer and never leaves it; the lead lets that key run its export program and nothing else.
 * The certificates' private keys go from server to server over that SSH connection only: Pulumi
 * sees public keys, paths and programs, never a certificate key.
 */

/**
 * Rewrites root's authorized_keys atomically: every line kept but `peer`'s (those ending with its
 * marker), then, with `withStdin`, its line from stdin. One step per peer, each under a lock, so
 * that a peer that cannot be reached holds up only its own line; the operator's lines are kept.
 */
function authorizedKeyScript(settings: Settings, peer: string, withStdin: boolean): string {
    const marker = ` ${certPullKeyMarker}:${peer}`;
    return [
        "set -eu",
        // Root's home from passwd: the file sshd reads by default (AuthorizedKeysFile .ssh/authorized_keys).
        `home=$(awk -F: '$1 == "root" { print $6 }' /etc/passwd)`,
        'keys="${home:-/root}/.ssh/authorized_keys"',
        ...(withStdin ? ['mkdir -p "$(dirname "$keys")"'] : ['[ -f "$keys" ] || exit 0']),
        // The peers' steps run at once: one rewrite at a time.
        `exec 9>${shellQuote(`${settings.layout.configDir}/.authorized-keys.lock`)}`,
        "flock 9",
        'tmp=$(mktemp "$keys.XXXXXX")',
        "trap 'rm -f \"$tmp\"' EXIT",
        // Exact end of line: web2's marker is not web20's.
        `if [ -f "$keys" ]; then awk -v m=${shellQuote(marker)} 'substr($0, length($0) - length(m) + 1) != m' "$keys" > "$tmp"; fi`,
        ...(withStdin ? ['cat >> "$tmp"'] : []),
        'chmod 0600 "$tmp"',
        'mv -f "$tmp" "$keys"',
    ].join("\n");
}

export interface CertificateExportArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings & { tls: TlsSettings };
}

/** On the lead: the program that prints its certificates to the peers, and the peers' keys allowed to run it. */
export class CertificateExport extends pulumi.ComponentResource {
    /** The export in place: what a peer's first fetch needs besides its key being allowed. */
    public readonly ready: pulumi.Resource[];
    private readonly args: CertificateExportArgs;
    private readonly name: string;
    private readonly opts?: pulumi.ComponentResourceOptions;

    constructor(name: string, args: CertificateExportArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:tls:CertificateExport", name, {}, componentOptions(opts));
        this.args = args;
        this.name = name;
        this.opts = opts;
        const { connection, settings } = args;
        const program = hostFile(`${name}-program`, { connection, ...certExportScriptFile(settings) }, childOptions(this, opts));
        const config = hostFile(`${name}-config`, { connection, ...certExportConfigFile(settings) }, childOptions(this, opts));
        this.ready = [program, config];
    }

    /**
     * Lets a peer's key (its public half, which the peer printed) run the export program and
     * nothing else: its line in root's authorized_keys, with a forced command and `restrict`.
     */
    authorize(peer: { name: string; publicKey: pulumi.Input<string> }): command.remote.Command {
        const { connection, settings } = this.args;
        const line = pulumi.output(peer.publicKey).apply((key) => `${certPullAuthorizedKey(settings, peer.name, key)}\n`);
        const install = authorizedKeyScript(settings, peer.name, true);
        return hostCommand(
            `${this.name}-peer-${peer.name}`,
            { connection, create: install, update: install, delete: authorizedKeyScript(settings, peer.name, false), stdin: line },
            childOptions(this, this.opts, this.ready),
        );
    }
}

export interface CertificatePullArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings & { tls: TlsSettings };
    /** The server that orders the certificates. */
    lead: ServerSettings;
}

/**
 * On a peer: its own SSH key (made here; only its public half is read), the lead's pinned host
 * key, the pull program and its parameters, and the job that runs it every 15 minutes. `pull()`
 * runs it once during `up`, after the lead issued.
 */
export class CertificatePull extends pulumi.ComponentResource {
    /** The peer key's public half, as the lead's authorized_keys takes it (not a secret). */
    public readonly publicKey: pulumi.Output<string>;
    private readonly ready: pulumi.Resource[];
    private readonly args: CertificatePullArgs;
    private readonly name: string;
    private readonly opts?: pulumi.ComponentResourceOptions;

    constructor(name: string, args: CertificatePullArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:tls:CertificatePull", name, {}, componentOptions(opts));
        this.args = args;
        this.name = name;
        this.opts = opts;
        const { connection, settings, lead } = args;
        const { layout, platform } = settings;
        const q = shellQuote;

        // Generated once, as root, in a directory only root enters; a re-run prints the same key. The
        // ssh client is installed first when missing (releases before did it in a step of its own,
        // which had nothing to undo: dropping it changes nothing on the host).
        const key = hostCommand(
            `${name}-key`,
            {
                connection,
                create: [
                    "set -eu",
                    // Its output goes to stderr: this step's stdout is the public key.
                    `if ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null; then\n{\n${platform.sshClientInstallCommand}\n} >&2\nfi`,
                    `install -d -o root -g root -m 0700 ${q(layout.certPullDir)}`,
                    `if [ ! -s ${q(layout.certPullKey)} ]; then (umask 077; ssh-keygen -q -t ed25519 -N '' -C ${q(`${certPullKeyMarker}@${settings.host.address}`)} -f ${q(layout.certPullKey)}); fi`,
                    `chmod 0600 ${q(layout.certPullKey)}`,
                    `ssh-keygen -y -f ${q(layout.certPullKey)}`,
                ].join("\n"),
                delete: `rm -rf ${q(layout.certPullDir)}`,
                triggers: [layout.certPullKey],
            },
            { ...childOptions(this, opts), deleteBeforeReplace: true },
        );
        this.publicKey = key.stdout.apply((out) => out.trim());
        const knownHosts = hostFile(`${name}-known-hosts`, { connection, ...certPullKnownHostsFile(settings, lead) }, childOptions(this, opts, [key]));
        const program = hostFile(`${name}-program`, { connection, ...certPullScriptFile(settings) }, childOptions(this, opts));
        const config = hostFile(`${name}-config`, { connection, ...certPullConfigFile(settings, lead) }, childOptions(this, opts));
        this.ready = [key, knownHosts, program, config];
        hostFile(`${name}-job`, { connection, ...certPullJobFile(settings) }, childOptions(this, opts, this.ready));
    }

    /**
     * Fetches and installs the lead's certificates once `after` is done (the lead issued them and
     * allows this peer's key; this server's nginx serves). Again whenever the lead's issue steps
     * are replaced (a name added, another CA): `issued` are their ids.
     */
    pull(after: pulumi.Resource[], issued: pulumi.Input<string>[]): command.remote.Command {
        const { connection, settings } = this.args;
        const pulled = hostCommand(`${this.name}-pull`, { connection, create: `${settings.layout.certPullScript} up`, triggers: issued }, childOptions(this, this.opts, [...this.ready, ...after]));
        this.registerOutputs({ pulled });
        return pulled;
    }
}
