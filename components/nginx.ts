import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions, componentOptions } from "../lib/options";
import type { Settings } from "../lib/config";
import { nginxSiteFile } from "../lib/hostFiles";
import { enableAndReloadOrStart, reloadNginx, reloadNginxIfRunning } from "../lib/openrc";
import { hostCommand, hostFile, sha256, type Connection } from "../lib/hostCommand";
import { shellQuote } from "../lib/templates";

export interface NginxArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
}

/** nginx's own check of its whole configuration, quiet unless it fails. */
export const nginxCheck = "nginx -t -q";

/** Where the distro's catch-all site is parked while the stack owns port 80 (outside every include). */
const parkedDefaultSite = "/etc/nginx/.selfpages-parked-default-site";

/**
 * nginx serving `current` with gzip_static and caching, and proxying the exact webhook path to
 * the receiver. The config is checked with `nginx -t` on the host before it replaces the old one,
 * and applied with a reload, never a restart.
 */
export class Nginx extends pulumi.ComponentResource {
    public readonly siteConfig: command.remote.Command;
    public readonly reloaded: command.remote.Command;

    constructor(name: string, args: NginxArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:nginx:Nginx", name, {}, componentOptions(opts));
        const defaultSite = shellQuote(args.settings.platform.nginxDefaultSitePath);
        const parked = shellQuote(parkedDefaultSite);

        const defaultSiteParked = hostCommand(
            `${name}-park-default-site`,
            {
                connection: args.connection,
                create: `if [ -e ${defaultSite} ] || [ -L ${defaultSite} ]; then mv -f ${defaultSite} ${parked}; fi`,
                delete: `if { [ -e ${parked} ] || [ -L ${parked} ]; } && [ ! -e ${defaultSite} ]; then mv -f ${parked} ${defaultSite}; fi\n${reloadNginxIfRunning(nginxCheck)}`,
                triggers: [defaultSite],
            },
            { ...childOptions(this, opts), deleteBeforeReplace: true },
        );

        const file = nginxSiteFile(args.settings);
        this.siteConfig = hostFile(
            `${name}-site-config`,
            { connection: args.connection, ...file, validate: nginxCheck },
            childOptions(this, opts, [defaultSiteParked]),
        );

        // Serving the current configuration: enabled at boot, and reloaded when it runs (an earlier
        // `up`, or the distro's own start at install) or else started. A new configuration replaces
        // this step, which has nothing to undo, so its create runs again: the reload.
        this.reloaded = hostCommand(
            `${name}-service`,
            {
                connection: args.connection,
                create: `set -eu\n${enableAndReloadOrStart("nginx", reloadNginx(nginxCheck))}`,
                triggers: [sha256(file.content)],
            },
            childOptions(this, opts, [this.siteConfig]),
        );
        this.registerOutputs({ siteConfig: this.siteConfig, reloaded: this.reloaded });
    }
}
