import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { childOptions, componentOptions } from "../lib/options";
import type { Settings, SiteSettings, TlsSettings } from "../lib/config";
import { acmeCommand, acmeConfigFile, acmeDailyJobFile, acmeRenewScriptFile, type HostFile } from "../lib/hostFiles";
import { hostCommand, hostFile, installFileScript, sha256, type Connection } from "../lib/hostCommand";
import { removeDirectoriesScript, tlsDirectories } from "../lib/layout";
import { localCaDir, systemCaBundle } from "../lib/platform";
import { shellQuote } from "../lib/templates";

export interface AcmeClientArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings & { tls: TlsSettings };
    /** Where stacks made by earlier releases hold the daily job (the cron component). */
    renewalJobAliases?: pulumi.Input<pulumi.Alias>[];
    /**
     * Whether this server orders and renews its certificates: every server but a fleet's peers,
     * which get the lead's (components/certificateSharing.ts). A peer keeps only the cleanup.
     */
    orders: boolean;
}

const required = (file: HostFile | undefined): HostFile => {
    if (!file) throw new Error("certificates need tls settings and a site with names");
    return file;
};

/**
 * What every certificate of the host shares: the renew program (uacme through files/acme-renew.sh),
 * the CA bundle to trust for the ACME directory when one is configured, and the daily renewal of
 * every site's certificate, a job in the platform's daily directory (it runs as root: it writes
 * the certificates and reloads nginx).
 *
 * Its directories are made with all the others (components/directories.ts). `pulumi destroy`, or
 * TLS switched off, removes the served copies and the webroot, and leaves uacme's directory
 * (account key and issued certificates): see the README.
 */
export class AcmeClient extends pulumi.ComponentResource {
    /** What a site's certificate needs in place before it is issued. */
    public readonly ready: pulumi.Resource[];
    /** The step whose delete removes the certificates' directories: what serves from them goes first on destroy. */
    public readonly directories: pulumi.Resource;

    constructor(name: string, args: AcmeClientArgs, opts?: pulumi.ComponentResourceOptions) {
        // The type every stack holds since the first release with TLS, when it had one certificate.
        super("selfpages:tls:Certificate", name, {}, componentOptions(opts));
        const { settings, connection } = args;
        const { layout, tls } = settings;

        // The directories step makes the certificates' directories; this one removes them, on
        // destroy and when TLS is switched off.
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
        this.directories = cleanup;
        this.ready = [cleanup];
        if (!args.orders) {
            this.registerOutputs({});
            return;
        }
        const script = hostFile(`${name}-renew-script`, { connection, ...required(acmeRenewScriptFile(settings)) }, childOptions(this, opts));
        this.ready.push(script);
        if (tls.caBundle) {
            // A private ACME server's CA (the sandbox's pebble): uacme trusts the system store only.
            this.ready.push(hostCommand(`${name}-ca-bundle`, { connection, ...privateCaScripts(), stdin: `${tls.caBundle}\n` }, childOptions(this, opts)));
        }
        hostFile(`${name}-renewal-job`, { connection, ...required(acmeDailyJobFile(settings)) }, { ...childOptions(this, opts, [script]), aliases: args.renewalJobAliases });
        this.registerOutputs({});
    }
}

/** Where the private ACME server's CA goes among the store's local certificates. */
export const privateCaFile = `${localCaDir}/selfpages-acme.crt`;

/**
 * The scripts that make the host trust a private ACME server's CA (its PEM on stdin).
 * update-ca-certificates rebuilds the whole store: on Debian a process or more per certificate, a
 * second of CPU. So at first the CA is added to the bundle, the one file uacme's libcurl reads,
 * when it is not there yet; the store's next rebuild (a package upgrade, another CA, destroy) takes
 * it from the local certificates. Another CA rebuilds the store, so the previous one is no longer
 * trusted.
 */
export function privateCaScripts(): { create: string; update: string; delete: string } {
    const q = shellQuote;
    const installed = installFileScript({ path: privateCaFile, mode: "0644", owner: "root", group: "root" });
    const addedToBundle = [
        `bundle=${q(systemCaBundle)}`,
        'if [ ! -f "$bundle" ]; then update-ca-certificates >/dev/null 2>&1',
        `elif ! awk 'NR == FNR { ca = ca $0 "\\n"; next } { all = all $0 "\\n" } END { exit index(all, ca) ? 0 : 1 }' ${q(privateCaFile)} "$bundle"; then`,
        '  added=$(mktemp "$bundle.XXXXXX")',
        `  trap 'rm -f "$added"' EXIT`,
        `  cat "$bundle" ${q(privateCaFile)} > "$added"`,
        '  chmod 0644 "$added"',
        '  mv -f "$added" "$bundle"',
        "fi",
    ].join("\n");
    return {
        create: `${installed}\n${addedToBundle}`,
        update: `${installed}\nupdate-ca-certificates --fresh >/dev/null 2>&1`,
        delete: `rm -f ${q(privateCaFile)}\nupdate-ca-certificates --fresh >/dev/null 2>&1 || true`,
    };
}

export interface SiteCertificateArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings & { tls: TlsSettings };
    site: SiteSettings & { certificateNames: string[] };
    /** Whether this server orders it (a fleet's peer does not: it serves the lead's, pulled). */
    orders: boolean;
}

/**
 * A site's certificate, for all its names, around nginx (on a fleet's peer, only the placeholder:
 * the certificate is the lead's, pulled):
 *
 * - before nginx's config: its parameters for the renew program, and a certificate to serve when
 *   none is: the one uacme already holds for these names (an earlier `up`, a site added back), or
 *   a self-signed placeholder, so that the 443 server block loads and nginx answers the challenge
 *   on port 80;
 * - `issue()`, once nginx serves the challenge path: the renew program in `up` mode registers the
 *   account when missing (its key generated on the host), gets the certificate when missing or due,
 *   and installs it with a reload.
 */
export class SiteCertificate extends pulumi.ComponentResource {
    public readonly prepared: pulumi.Resource[];
    private readonly args: SiteCertificateArgs;
    private readonly name: string;
    private readonly opts?: pulumi.ComponentResourceOptions;

    constructor(name: string, args: SiteCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:tls:SiteCertificate", name, {}, componentOptions(opts));
        this.args = args;
        this.name = name;
        this.opts = opts;
        const { settings, site, connection } = args;
        const { layout } = settings;
        const q = shellQuote;

        const config = args.orders ? [hostFile(`${name}-renew-config`, { connection, ...required(acmeConfigFile(settings, site)) }, childOptions(this, opts))] : [];
        const [first] = site.certificateNames;
        const san = site.certificateNames.map((n) => `DNS:${n}`).join(",");
        const issuedCert = `${layout.acmeDir}/${first}/cert.pem`;
        const issuedKey = `${layout.acmeDir}/private/${first}/key.pem`;
        const { tlsCertificate: cert, tlsKey: key } = site.layout;
        const placeholder = hostCommand(
            `${name}-placeholder`,
            {
                connection,
                create: [
                    "set -eu",
                    `if [ ! -s ${q(cert)} ] || [ ! -s ${q(key)} ]; then`,
                    `  if [ -s ${q(issuedCert)} ] && [ -s ${q(issuedKey)} ]; then`,
                    `    (umask 077; cp ${q(issuedKey)} ${q(key)}); cp ${q(issuedCert)} ${q(cert)}`,
                    "  else",
                    `    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj ${q(`/CN=${first}`)} -addext ${q(`subjectAltName=${san}`)} -keyout ${q(key)} -out ${q(cert)} 2>/dev/null`,
                    "  fi",
                    `  chmod 0600 ${q(key)}`,
                    "fi",
                ].join("\n"),
            },
            childOptions(this, opts),
        );
        this.prepared = [...config, placeholder];
    }

    /** Issues (or renews when due) and installs the certificate once `after` is done (nginx serving the challenge path). */
    issue(after: pulumi.Resource[]): command.remote.Command {
        const { settings, site, connection } = this.args;
        if (!this.args.orders) throw new Error(`SiteCertificate ${this.name}: this server does not order certificates (a fleet's peer)`);
        const { tls } = settings;
        const issued = hostCommand(
            `${this.name}-issue`,
            {
                connection,
                create: acmeCommand(settings, site, "up"),
                // A new name, directory or account contact gets a new certificate during `up`;
                // otherwise renewal is the daily job's.
                triggers: [site.certificateNames.join(" "), tls.directoryUrl, tls.contactEmail ?? "", sha256(tls.caBundle ?? "")],
            },
            childOptions(this, this.opts, [...this.prepared, ...after]),
        );
        this.registerOutputs({ issued });
        return issued;
    }
}
