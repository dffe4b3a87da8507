import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { hostCommand, type Connection } from "../lib/hostCommand";
import { dependsOnList, formerlyUnder } from "../lib/options";
import { commandConnection, sshTarget } from "../lib/ssh";

export interface HostConnectionArgs {
    settings: Settings;
    privateKey: pulumi.Input<string>;
    /** The preflight found this fleet server unfit: every step of it fails with this, the others go on. */
    preflightFailure?: string;
}

export interface HostConnection {
    /** The SSH connection every other step uses (a secret: it holds the key). */
    connection: pulumi.Output<Connection>;
    /** Everything that touches the host depends on this. */
    ready: command.remote.Command;
}

/**
 * The SSH connection every other step of the server uses, and a first step that waits for the
 * host and refuses a host whose key differs from the pinned one (connection.hostKey). The host
 * checks (lib/hostChecks.ts) are not run again here: the preflight of the same `up` (index.ts) ran
 * them before any resource was declared, so one SSH check per `up`.
 */
export function connectToHost(name: string, args: HostConnectionArgs, opts: pulumi.CustomResourceOptions): HostConnection {
    const { settings } = args;
    const connection = pulumi.secret(args.privateKey).apply((privateKey) => commandConnection(sshTarget(settings, privateKey)));
    // Releases before kept these steps in a component of their own.
    const aliases = [formerlyUnder(name, "selfpages:connection:HostConnection", opts)];
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
                  { ...opts, aliases },
              ),
          ];
    const ready = hostCommand(
        `${name}-ready`,
        {
            connection,
            create: "true",
            triggers: [settings.host.address, settings.host.port, settings.host.hostKey, settings.os],
        },
        { ...opts, deleteBeforeReplace: true, dependsOn: [...dependsOnList(opts), ...gate], aliases },
    );
    return { connection, ready };
}
