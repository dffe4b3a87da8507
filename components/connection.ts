import { componentOptions } from "../lib/options";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { hostCommand, type Connection } from "../lib/hostCommand";
import { commandConnection, sshTarget } from "../lib/ssh";

export interface HostConnectionArgs {
    settings: Settings;
    privateKey: pulumi.Input<string>;
    /** The preflight found this fleet server unfit: every step of it fails with this, the others go on. */
    preflightFailure?: string;
}

/**
 * The SSH connection every other command uses, and a first command that waits for the host and
 * refuses a host whose key differs from the pinned one (connection.hostKey). The host checks
 * (lib/hostChecks.ts) are not run again here: the preflight of the same `up` (index.ts) ran them
 * before any resource was declared, so one SSH check per `up`.
 */
export class HostConnection extends pulumi.ComponentResource {
    public readonly connection: pulumi.Output<Connection>;
    /** Everything that touches the host depends on this. */
    public readonly ready: command.remote.Command;

    constructor(name: string, args: HostConnectionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:connection:HostConnection", name, {}, componentOptions(opts));
        const { settings } = args;
        this.connection = pulumi.secret(args.privateKey).apply((privateKey) => commandConnection(sshTarget(settings, privateKey)));
        // In a fleet, a server that failed its preflight is not connected to: this local step fails
        // with the reason (naming the server), so its steps are not attempted and the others converge.
        // Its trigger changes while the server is unfit, so the step runs (and fails) on every `up`
        // until the server is fixed; then it runs once more, and succeeds.
        const gate = args.preflightFailure === undefined
            ? []
            : [
                  new command.local.Command(
                      `${name}-preflight`,
                      { create: `printf '%s\\n' "$REASON" >&2; exit 1`, environment: { REASON: args.preflightFailure }, triggers: [args.preflightFailure, String(Date.now())] },
                      { parent: this },
                  ),
              ];
        this.ready = hostCommand(
            `${name}-ready`,
            {
                connection: this.connection,
                create: "true",
                triggers: [settings.host.address, settings.host.port, settings.host.hostKey, settings.os],
            },
            { parent: this, deleteBeforeReplace: true, dependsOn: gate },
        );
        this.registerOutputs({ connection: this.connection, ready: this.ready });
    }
}
