import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions } from "../lib/options";
import type { Settings, TlsSettings } from "../lib/config";
import { acmeRenewScriptFile } from "../lib/hostFiles";
import { hostCommand, hostFile, installFileScript, sha256, type Connection } from "../lib/hostCommand";
import { localCaDir } from "../lib/platform";
import { shellQuote } from "../lib/templates";

export interface CertificateArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings & { tls: TlsSettings };
}

/**
 * The site's certificate, from an ACME CA through uacme on the host, in two halves around nginx:
 *
 * - `prepared` (before nginx's config): directories, the renew script, the CA bundle to trust for
 *   the ACME directory when one is configured, and a self-signed placeholder certificate when none
 *   is served yet, so that the 443 server block loads and nginx answers the challenge on port 80;
 * - `issued` (after nginx serves that config): the renew script in `up` mode registers the account
 *   (its key generated on the host), gets the certificate and installs it with a reload.
 *
 * The daily renewal is in the cron component. `pulumi destroy` removes the served copy and the
 * webroot, and leaves uacme's directory (account key and issued certificates): see the README.
 */
export class Certificate extends pulumi.ComponentResource {
    public readonly prepared: pulumi.Resource[];
    private readonly issueStep: (after: pulumi.Resource[]) => command.remote.Command;

    /** Gets the certificate once `after` (nginx serving the challenge location on port 80) is done. */
    issue(after: pulumi.Resource[]): command.remote.Command {
        const issued = this.issueStep(after);
        this.registerOutputs({ issued });
        return issued;
    }

    constructor(name: string, args: CertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:tls:Certificate", name, {}, opts);
        const { settings, connection } = args;
        const { layout, tls } = settings;
        const q = shellQuote;

        const directories = hostCommand(
            `${name}-directories`,
            {
                connection,
                create: [
                    "set -eu",
                    `install -d -o root -g root -m 0700 ${q(layout.tlsDir)} ${q(layout.acmeDir)}`,
                    `install -d -o root -g root -m 0755 ${q(layout.acmeWebroot)} ${q(layout.acmeChallengeDir)}`,
                ].join("\n"),
                delete: [
                    `rm -rf ${q(layout.tlsDir)} ${q(layout.acmeWebroot)}`,
                    `if [ -d ${q(layout.acmeDir)} ]; then echo ${q(`selfpages: left ${layout.acmeDir} (the ACME account key and the issued certificates): a new up on this host reuses them instead of counting against the CA's rate limits; remove it to retire the account`)}; fi`,
                ].join("\n"),
                triggers: [layout.tlsDir, layout.acmeWebroot],
            },
            { ...childOptions(this, opts), deleteBeforeReplace: true },
        );

        const scriptFile = acmeRenewScriptFile(settings);
        if (!scriptFile) throw new Error("Certificate needs tls settings");
        const script = hostFile(`${name}-renew-script`, { connection, ...scriptFile }, childOptions(this, opts, [directories]));

        const prepared: pulumi.Resource[] = [directories, script];
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
                childOptions(this, opts, [directories]),
            ),
        );
        this.prepared = prepared;

        this.issueStep = (after) =>
            hostCommand(
                `${name}-issue`,
                {
                    connection,
                    create: `${q(layout.acmeScript)} up`,
                    // A new name, directory or account contact gets a new certificate during `up`;
                    // otherwise renewal is the daily job's.
                    triggers: [tls.names.join(" "), tls.directoryUrl, tls.contactEmail ?? "", sha256(tls.caBundle ?? "")],
                },
                childOptions(this, opts, [...prepared, ...after]),
            );
    }
}
