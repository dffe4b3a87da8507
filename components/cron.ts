import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions, componentOptions } from "../lib/options";
import type { Settings } from "../lib/config";
import { crontabFile } from "../lib/hostFiles";
import { enableAndStart } from "../lib/openrc";
import { hostCommand, type Connection } from "../lib/hostCommand";

export interface FallbackCronArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
}

/**
 * The fallback sync: the service account's whole crontab is replaced with `crontab -u USER -`, so
 * re-running `up` can never add a second line (seed 000 appended one per run).
 */
export class FallbackCron extends pulumi.ComponentResource {
    public readonly crontab: command.remote.Command;

    constructor(name: string, args: FallbackCronArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:cron:FallbackCron", name, {}, componentOptions(opts));
        const user = args.settings.layout.serviceUser;
        const cronService = args.settings.platform.cronService;

        const daemon = hostCommand(
            `${name}-daemon`,
            {
                connection: args.connection,
                create: `set -eu\n${enableAndStart(cronService)}`,
                triggers: [cronService],
            },
            childOptions(this, opts),
        );

        const install = `crontab -u ${user} -`;
        this.crontab = hostCommand(
            `${name}-crontab`,
            {
                connection: args.connection,
                create: install,
                update: install,
                delete: `crontab -u ${user} -r 2>/dev/null || true`,
                stdin: crontabFile(args.settings).content,
            },
            childOptions(this, opts, [daemon]),
        );
        this.registerOutputs({ crontab: this.crontab });
    }
}
