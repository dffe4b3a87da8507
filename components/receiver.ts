import * as pulumi from "@pulumi/pulumi";
import { RemoteCommand } from "../lib/providers/remoteCommand";
import { childOptions } from "../lib/options";
import type { Settings } from "../lib/config";
import { hooksFile, receiverServiceFile } from "../lib/hostFiles";
import { hostLayout } from "../lib/layout";
import { contentHash, installFileScript, remoteFile, sha256, type Connection } from "../lib/remoteFile";

export interface ReceiverArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
    /** The secret GitHub signs with once this `up` is done. */
    currentSecret: pulumi.Input<string>;
    /** During a rotation, the secret GitHub signed with until now. */
    previousSecret?: pulumi.Input<string>;
}

/** GitHub gives up on a delivery after 10 s: once the hook has the new secret, waiting this long
 *  means no delivery signed with the previous secret can still arrive. */
export const rotationGraceSeconds = 11;

/**
 * adnanh/webhook under OpenRC's supervise-daemon, as the service account, on loopback. It checks
 * X-Hub-Signature-256, answers 202 at once and runs the sync script in the background. A new hooks
 * file is applied with a reload (SIGUSR1), so the port never closes.
 *
 * A secret rotation is three steps in one `up`: the receiver accepts the new and the previous
 * secret (hooksApplied), the GitHub hook switches to the new one (it depends on hooksApplied), then
 * retirePrevious() waits out GitHub's delivery timeout and drops the previous secret.
 */
export class Receiver extends pulumi.ComponentResource {
    public readonly hooksFile: RemoteCommand;
    public readonly service: RemoteCommand;
    /** Applied after every hooks-file change: the GitHub hook may switch secrets only after this. */
    public readonly hooksApplied: RemoteCommand;

    private readonly args: ReceiverArgs;
    private readonly name: string;

    constructor(name: string, args: ReceiverArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:receiver:Receiver", name, {}, opts);
        this.args = args;
        this.name = name;
        const { settings } = args;
        const layout = hostLayout(settings);
        const service = layout.receiverService;

        const accepted = args.previousSecret === undefined ? [args.currentSecret] : [args.currentSecret, args.previousSecret];
        const hooksContent = pulumi.secret(pulumi.all(accepted).apply((secrets) => hooksFile(settings, secrets).content));
        const hooksSpec = hooksFile(settings, ["placeholder"]);
        this.hooksFile = remoteFile(
            `${name}-hooks`,
            { connection: args.connection, path: hooksSpec.path, mode: hooksSpec.mode, owner: hooksSpec.owner, group: hooksSpec.group, content: hooksContent },
            childOptions(this, opts),
        );

        const initScript = receiverServiceFile(settings);
        const initFile = remoteFile(`${name}-openrc-service`, { connection: args.connection, ...initScript }, childOptions(this, opts));

        this.service = new RemoteCommand(
            `${name}-service`,
            {
                connection: args.connection,
                create: `set -eu\nrc-update add ${service} default >/dev/null\nrc-service ${service} restart`,
                delete: `rc-service ${service} stop || true\nrc-update del ${service} default >/dev/null 2>&1 || true`,
                // A new service definition needs a restart; a new hooks file only a reload (below).
                triggers: [sha256(initScript.content)],
            },
            { ...childOptions(this, opts, [initFile, this.hooksFile]), deleteBeforeReplace: true },
        );

        this.hooksApplied = new RemoteCommand(
            `${name}-reload`,
            {
                connection: args.connection,
                create: `set -eu\nrc-service ${service} reload\nsleep 1\nrc-service ${service} status >/dev/null`,
                triggers: [contentHash(hooksContent)],
            },
            childOptions(this, opts, [this.service]),
        );
        this.registerOutputs({ hooksFile: this.hooksFile, service: this.service, hooksApplied: this.hooksApplied });
    }

    /**
     * The last step of a rotation: after `githubHook` has the new secret, accept only that one.
     * Without a rotation in progress it rewrites the same single-secret file and returns at once.
     */
    public retirePrevious(githubHook: pulumi.Resource): RemoteCommand {
        const { settings, currentSecret, previousSecret } = this.args;
        const layout = hostLayout(settings);
        const spec = hooksFile(settings, ["placeholder"]);
        const currentOnly = pulumi.secret(pulumi.output(currentSecret).apply((secret) => hooksFile(settings, [secret]).content));
        const wait = previousSecret === undefined ? "" : `sleep ${rotationGraceSeconds}\n`;
        const install = installFileScript(spec);
        return new RemoteCommand(
            `${this.name}-retire-previous-secret`,
            {
                connection: this.args.connection,
                create: `${wait}${install}\nrc-service ${layout.receiverService} reload`,
                stdin: currentOnly,
                triggers: [contentHash(currentOnly)],
            },
            { parent: this, dependsOn: [githubHook, this.hooksApplied] },
        );
    }
}
