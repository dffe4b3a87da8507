import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { crontabFile } from "../lib/hostFiles";
import { enableAndStart } from "../lib/openrc";
import { hostCommand, type Connection } from "../lib/hostCommand";
import { formerlyUnder } from "../lib/options";

export interface FallbackCronArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
}

/**
 * The fallback sync, one step of the server's: the cron daemon enabled and running, and the
 * service account's whole crontab replaced with `crontab -u USER -`, so re-running `up` can never
 * add a second line (seed 000 appended one per run). Releases before kept it in a component of its
 * own with the daemon as a second step (which had nothing to undo: dropping it changes nothing on
 * the host).
 */
export function installFallbackCron(name: string, args: FallbackCronArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const user = args.settings.layout.serviceUser;
    // The daemon's commands must not read the crontab, which comes on stdin.
    const install = `set -eu\n{\n${enableAndStart(args.settings.platform.cronService)}\n} </dev/null\ncrontab -u ${user} -`;
    return hostCommand(
        `${name}-crontab`,
        {
            connection: args.connection,
            create: install,
            delete: `crontab -u ${user} -r 2>/dev/null || true`,
            stdin: crontabFile(args.settings).content,
        },
        { ...opts, aliases: [formerlyUnder(name, "selfpages:cron:FallbackCron", opts)] },
    );
}
