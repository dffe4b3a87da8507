import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions } from "../lib/options";
import type { Settings } from "../lib/config";
import { hooksFile, receiverServiceFile, secretPlaceholder } from "../lib/hostFiles";
import { shellQuote } from "../lib/templates";
import { hostLayout } from "../lib/layout";
import { hostCommand, contentHash, installFileScript, hostFile, sha256, type Connection } from "../lib/hostCommand";

export interface ReceiverArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
    /** The secret GitHub signs with once this `up` is done. */
    secret: pulumi.Input<string>;
}

/** GitHub gives up on a delivery after 10 s: once the hook has the new secret, waiting this long
 *  means no delivery signed with the previous secret can still arrive. */
export const rotationGraceSeconds = 11;

/** Prints the secrets the receiver on the host accepts now, one a line (none on a fresh host). */
const acceptedSecretsScript = (hooksPath: string) =>
    `if [ -f ${shellQuote(hooksPath)} ]; then grep -o '"secret": "[A-Za-z0-9]*"' ${shellQuote(hooksPath)} | cut -d'"' -f4; fi`;

/**
 * adnanh/webhook under OpenRC's supervise-daemon, as the service account, on loopback. It checks
 * X-Hub-Signature-256, answers 202 at once and runs the sync script in the background. A new hooks
 * file is applied with a reload (SIGUSR1), so the port never closes.
 *
 * A secret change (a rotation, or the first `up` of a new release that generates the secret
 * differently) is three steps in one `up`: the receiver accepts the new secret and every secret it
 * accepted before, read from the host (hooksApplied); the GitHub hook switches to the new one (it
 * depends on hooksApplied); then retirePrevious() waits out GitHub's delivery timeout and drops
 * the others. No delivery is refused at any point.
 */
export class Receiver extends pulumi.ComponentResource {
    public readonly hooksFile: command.remote.Command;
    public readonly service: command.remote.Command;
    /** Applied after every hooks-file change: the GitHub hook may switch secrets only after this. */
    public readonly hooksApplied: command.remote.Command;

    private readonly args: ReceiverArgs;
    private readonly name: string;
    private readonly finalHooks: pulumi.Output<string>;
    private readonly transitionalHooks: pulumi.Output<string>;

    constructor(name: string, args: ReceiverArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:receiver:Receiver", name, {}, opts);
        this.args = args;
        this.name = name;
        const { settings } = args;
        const layout = hostLayout(settings);
        const service = layout.receiverService;
        const hooksSpec = hooksFile(settings, [secretPlaceholder("webhook")]);

        this.finalHooks = pulumi.secret(pulumi.output(args.secret).apply((secret) => hooksFile(settings, [secret]).content));
        // Read again whenever the final file would change (new secret, new receiver settings), so a
        // secret retired by an earlier rotation is not carried forward.
        const acceptedNow = hostCommand(
            `${name}-accepted-secrets`,
            { connection: args.connection, create: acceptedSecretsScript(hooksSpec.path), triggers: [contentHash(this.finalHooks)], secretStdout: true },
            childOptions(this, opts),
        );
        this.transitionalHooks = pulumi.secret(
            pulumi.all([args.secret, acceptedNow.stdout]).apply(([secret, accepted]) => hooksFile(settings, [secret, ...accepted.split("\n").filter((s) => s !== "")]).content),
        );
        this.hooksFile = hostFile(
            `${name}-hooks`,
            { connection: args.connection, path: hooksSpec.path, mode: hooksSpec.mode, owner: hooksSpec.owner, group: hooksSpec.group, content: this.transitionalHooks },
            childOptions(this, opts),
        );

        const initScript = receiverServiceFile(settings);
        const initFile = hostFile(`${name}-openrc-service`, { connection: args.connection, ...initScript }, childOptions(this, opts));

        const ensureStarted = `set -eu\nrc-update add ${service} default >/dev/null\nrc-service ${service} status >/dev/null 2>&1 || rc-service ${service} start`;
        this.service = hostCommand(
            `${name}-service`,
            {
                connection: args.connection,
                // A new service definition replaces this step: delete stops the receiver, create
                // starts it. Otherwise a receiver that runs is left alone, by create as by update: on
                // the first `up` of this release over a host set up by selfpages 0.1, this step is
                // created while the receiver runs the same definition. A new hooks file only needs
                // a reload (below).
                create: ensureStarted,
                update: ensureStarted,
                delete: `rc-service ${service} stop || true\nrc-update del ${service} default >/dev/null 2>&1 || true`,
                triggers: [sha256(initScript.content)],
            },
            { ...childOptions(this, opts, [initFile, this.hooksFile]), deleteBeforeReplace: true },
        );

        this.hooksApplied = hostCommand(
            `${name}-reload`,
            {
                connection: args.connection,
                create: `set -eu\nrc-service ${service} reload\nsleep 1\nrc-service ${service} status >/dev/null`,
                triggers: [contentHash(this.transitionalHooks)],
            },
            childOptions(this, opts, [this.service]),
        );
        this.registerOutputs({ hooksFile: this.hooksFile, service: this.service, hooksApplied: this.hooksApplied });
    }

    /**
     * The last step of a secret change: after `githubHook` has the new secret, accept only that
     * one. When the receiver accepted nothing else it rewrites the same file and returns at once.
     */
    public retirePrevious(githubHook: pulumi.Resource): command.remote.Command {
        const { settings } = this.args;
        const layout = hostLayout(settings);
        const install = installFileScript(hooksFile(settings, [secretPlaceholder("webhook")]));
        // Whether a secret is being retired is the one fact about the secrets this script reveals.
        const wait = pulumi.unsecret(pulumi.all([this.transitionalHooks, this.finalHooks]).apply(([transitional, final]) => (transitional === final ? "" : `sleep ${rotationGraceSeconds}\n`)));
        return hostCommand(
            `${this.name}-retire-previous-secret`,
            {
                connection: this.args.connection,
                create: pulumi.interpolate`${wait}${install}\nrc-service ${layout.receiverService} reload`,
                stdin: this.finalHooks,
                triggers: [contentHash(this.transitionalHooks), contentHash(this.finalHooks)],
            },
            { parent: this, dependsOn: [githubHook, this.hooksApplied] },
        );
    }
}
