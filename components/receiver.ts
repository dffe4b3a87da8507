import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import type { Settings } from "../lib/config";
import { hooksFile, receiverServiceFile } from "../lib/hostFiles";
import { hostLayout } from "../lib/layout";
import { contentHash, remoteFile, sha256, type Connection } from "../lib/remoteFile";

export interface ReceiverArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
    /** Secrets a delivery may be signed with: the current one first, then the previous one. */
    webhookSecrets: pulumi.Input<string>[];
}

/**
 * adnanh/webhook under OpenRC's supervise-daemon, as the service account, on loopback. It checks
 * X-Hub-Signature-256 against the current and the previous secret, answers 202 at once and runs the
 * sync script in the background. A new hooks file is applied with a reload (SIGUSR1), so a secret
 * rotation never closes the port.
 */
export class Receiver extends pulumi.ComponentResource {
    public readonly hooksFile: remote.Command;
    public readonly service: remote.Command;
    /** Applied after every hooks-file change: the GitHub hook may switch secrets only after this. */
    public readonly hooksApplied: remote.Command;

    constructor(name: string, args: ReceiverArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:receiver:Receiver", name, {}, opts);
        const { settings } = args;
        const layout = hostLayout(settings);
        const service = layout.receiverService;

        const hooksContent = pulumi.secret(pulumi.all(args.webhookSecrets).apply((secrets) => hooksFile(settings, secrets).content));
        const hooksSpec = hooksFile(settings, ["placeholder"]);
        this.hooksFile = remoteFile(
            `${name}-hooks`,
            { connection: args.connection, path: hooksSpec.path, mode: hooksSpec.mode, owner: hooksSpec.owner, group: hooksSpec.group, content: hooksContent },
            { parent: this },
        );

        const initScript = receiverServiceFile(settings);
        const initFile = remoteFile(`${name}-openrc-service`, { connection: args.connection, ...initScript }, { parent: this });

        this.service = new remote.Command(
            `${name}-service`,
            {
                connection: args.connection,
                create: `set -eu\nrc-update add ${service} default >/dev/null\nrc-service ${service} restart`,
                delete: `rc-service ${service} stop || true\nrc-update del ${service} default >/dev/null 2>&1 || true`,
                // A new service definition needs a restart; a new hooks file only a reload (below).
                triggers: [sha256(initScript.content)],
            },
            { parent: this, dependsOn: [initFile, this.hooksFile], deleteBeforeReplace: true },
        );

        this.hooksApplied = new remote.Command(
            `${name}-reload`,
            {
                connection: args.connection,
                create: `set -eu\nrc-service ${service} reload\nsleep 1\nrc-service ${service} status >/dev/null`,
                triggers: [contentHash(hooksContent)],
            },
            { parent: this, dependsOn: [this.service] },
        );
        this.registerOutputs({ hooksFile: this.hooksFile, service: this.service, hooksApplied: this.hooksApplied });
    }
}
