import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions } from "../lib/options";
import type { Settings, TlsSettings } from "../lib/config";
import { acmeConfigFile, acmeDailyJobFile, acmeRenewScriptFile, type HostFile } from "../lib/hostFiles";
import { hostCommand, hostFile, installFileScript, sha256, type Connection } from "../lib/hostCommand";
import { removeDirectoriesScript, tlsDirectories } from "../lib/layout";
import { localCaDir } from "../lib/platform";
import { shellQuote } from "../lib/templates";
import type { Nginx } from "./nginx";

export interface CertificateArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings & { tls: TlsSettings };
    /**
     * Makes nginx serve the site once `certificateFiles` are in place; the certificate is issued
     * after it, when nginx answers the CA's challenge on port 80.
     */
    nginx: (certificateFiles: pulumi.Resource[]) => Nginx;
    /** Where stacks made by earlier releases hold the daily job (the cron component). */
    renewalJobAliases?: pulumi.Input<pulumi.Alias>[];
}

const required = (file: HostFile | undefined): HostFile => {
    if (!file) throw new Error("Certificate needs tls settings");
    return file;
};

/**
 * The site's certificate, from an ACME CA through uacme on the host, around nginx:
 *
 * - before nginx's config: the renew program and its parameters, the CA bundle to trust for the
 *   ACME directory when one is configured, and a self-signed placeholder certificate when none is
 *   served yet, so that the 443 server block loads and nginx answers the challenge on port 80;
 * - nginx (made by `args.nginx`, which is the server's);
 * - `issued`: the renew program in `up` mode registers the account (its key generated on the
 *   host), gets the certificate and installs it with a reload;
 * - the daily renewal, a job in the platform's daily directory.
 *
 * Its directories are made with all the others (components/directories.ts). `pulumi destroy`, or
 * TLS switched off, removes the served copy and the webroot, and leaves uacme's directory (account
 * key and issued certificates): see the README.
 */
export class Certificate extends pulumi.ComponentResource {
    public readonly nginx: Nginx;
    public readonly issued: command.remote.Command;

    constructor(name: string, args: CertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:tls:Certificate", name, {}, opts);
        const { settings, connection } = args;
        const { layout, tls } = settings;
        const q = shellQuote;

        // The directories step makes the certificate's directories; this one removes them, on
        // destroy and when TLS is switched off. Stacks made by earlier releases hold it as the step
        // that made them: the alias keeps its address, so its removal never runs during an upgrade.
        const cleanup = hostCommand(
            `${name}-cleanup`,
            {
                connection,
                create: ":",
                delete: removeDirectoriesScript(tlsDirectories(layout)),
                triggers: [layout.tlsDir, layout.acmeWebroot],
            },
            { ...childOptions(this, opts), deleteBeforeReplace: true, aliases: [{ name: `${name}-directories` }] },
        );

        const config = hostFile(`${name}-renew-config`, { connection, ...required(acmeConfigFile(settings)) }, childOptions(this, opts));
        const script = hostFile(`${name}-renew-script`, { connection, ...required(acmeRenewScriptFile(settings)) }, childOptions(this, opts));

        const prepared: pulumi.Resource[] = [cleanup, config, script];
        if (tls.caBundle) {
            // A private ACME server's CA (the sandbox's pebble): uacme trusts the system store only.
            const caFile = `${localCaDir}/selfpages-acme.crt`;
            const install = `${installFileScript({ path: caFile, mode: "0644", owner: "root", group: "root" })}\nupdate-ca-certificates >/dev/null 2>&1`;
            prepared.push(
                hostCommand(
                    `${name}-ca-bundle`,
                    { connection, create: install, update: install, delete: `rm -f ${q(caFile)}\nupdate-ca-certificates --fresh >/dev/null 2>&1 || true`, stdin: `${tls.caBundle}\n` },
                    childOptions(this, opts),
                ),
            );
        }

        // nginx cannot load the 443 block without a certificate, and the CA cannot validate before
        // nginx answers on port 80: a placeholder, valid one day, breaks the circle on a new host.
        const [first, ...others] = tls.names;
        const san = [first, ...others].map((n) => `DNS:${n}`).join(",");
        prepared.push(
            hostCommand(
                `${name}-placeholder`,
                {
                    connection,
                    create: [
                        "set -eu",
                        `if [ ! -s ${q(layout.tlsCertificate)} ] || [ ! -s ${q(layout.tlsKey)} ]; then`,
                        `  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj ${q(`/CN=${first}`)} -addext ${q(`subjectAltName=${san}`)} -keyout ${q(layout.tlsKey)} -out ${q(layout.tlsCertificate)} 2>/dev/null`,
                        `  chmod 0600 ${q(layout.tlsKey)}`,
                        "fi",
                    ].join("\n"),
                },
                childOptions(this, opts),
            ),
        );

        this.nginx = args.nginx(prepared);
        this.issued = hostCommand(
            `${name}-issue`,
            {
                connection,
                create: `${q(layout.acmeScript)} up`,
                // A new name, directory or account contact gets a new certificate during `up`;
                // otherwise renewal is the daily job's.
                triggers: [tls.names.join(" "), tls.directoryUrl, tls.contactEmail ?? "", sha256(tls.caBundle ?? "")],
            },
            childOptions(this, opts, [...prepared, this.nginx.reloaded]),
        );

        // The daily renewal runs as root (it writes the certificate and reloads nginx), so it is a
        // file in the platform's daily directory, run by root's stock crontab.
        hostFile(`${name}-renewal-job`, { connection, ...required(acmeDailyJobFile(settings)) }, { ...childOptions(this, opts, [script, config]), aliases: args.renewalJobAliases });
        this.registerOutputs({ issued: this.issued });
    }
}
