import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../lib/config";
import { contentHash, hostCommand, hostFile, installFileScript, sha256, type Connection } from "../lib/hostCommand";
import { hookId, hooksFile, hooksFileSpec, receiverConfDFile, receiverServiceFile, receiverServiceIdentity } from "../lib/hostFiles";
import { enableAndReloadOrStart, reload, stopAndDisable } from "../lib/openrc";
import { childOptions, componentOptions } from "../lib/options";
import { shellQuote } from "../lib/templates";

export interface ReceiverArgs {
    connection: pulumi.Input<Connection>;
    settings: Settings;
    /** Each site's current secret (components/webhooks.ts), by site name. */
    secrets: Record<string, pulumi.Input<string>>;
}

/** GitHub gives up on a delivery after 10 s: once the hook has the new secret, waiting this long
 *  means no delivery signed with the previous secret can still arrive. */
export const rotationGraceSeconds = 11;

/** Prints the secrets the receiver on the host accepts now, "HOOK-ID SECRET" a line (none on a fresh host). */
const acceptedSecretsScript = (hooksPath: string) => `if [ -f ${shellQuote(hooksPath)} ]; then awk -F'"' '$2 == "id" { id = $4 } $2 == "secret" { print id " " $4 }' ${shellQuote(hooksPath)}; fi`;

/** The accepted secrets, by hook id, from acceptedSecretsScript's lines. */
function acceptedByHook(lines: string): Record<string, string[]> {
    const accepted: Record<string, string[]> = {};
    for (const line of lines.split("\n")) {
        const [id, secret] = line.trim().split(" ");
        if (id && secret) (accepted[id] ??= []).push(secret);
    }
    return accepted;
}

/**
 * The webhook receiver on one host: adnanh/webhook under OpenRC's supervise-daemon (as the service
 * account, on loopback; it checks X-Hub-Signature-256, answers 202 at once and runs the sync script
 * in the background), one hook per site. A new hooks file is applied with a reload (SIGUSR1): the
 * port never closes. The secrets and GitHub's hooks are the stack's (components/webhooks.ts).
 *
 * A secret changes when a site's secretVersion changes (or on the first `up` of a release that
 * generates it differently), in three steps of one `up`: every server's receiver accepts the new
 * secret and every secret it accepted before, read from the host; GitHub's hooks switch to the new
 * one; then, after GitHub's delivery timeout, each receiver accepts only the new one
 * (retirePreviousSecrets). No delivery is refused.
 */
export class Receiver extends pulumi.ComponentResource {
    /** The receiver runs with the new secrets accepted beside the previous ones. */
    public readonly hooksApplied: pulumi.Resource;
    private readonly finish: (after: pulumi.Resource[]) => pulumi.Resource;

    constructor(name: string, args: ReceiverArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:receiver:Receiver", name, {}, componentOptions(opts));
        const { settings, connection } = args;
        const service = settings.layout.receiverService;
        const hooksSpec = hooksFileSpec(settings);

        const secrets = settings.sites.map((site) => pulumi.secret(args.secrets[site.name]));
        const bySite = (values: string[][]) => Object.fromEntries(settings.sites.map((site, i) => [site.name, values[i]]));
        const hooksWith = (secretsBySite: pulumi.Input<Record<string, string[]>>) => pulumi.secret(pulumi.output(secretsBySite).apply((values) => hooksFile(settings, values).content));

        const finalHooks = hooksWith(pulumi.all(secrets).apply((current) => bySite(current.map((s) => [s]))));
        // Read again whenever the final file would change (new secret, new site, new receiver
        // settings), so a secret retired by an earlier change is not carried forward.
        const acceptedNow = hostCommand(
            `${name}-accepted-secrets`,
            { connection, create: acceptedSecretsScript(hooksSpec.path), triggers: [contentHash(finalHooks)], secretStdout: true },
            childOptions(this, opts),
        );
        // Each site's hook accepts its new secret and those it accepted before, until GitHub switched.
        const transitionalHooks = hooksWith(
            pulumi.all([pulumi.all(secrets), acceptedNow.stdout]).apply(([current, stdout]) => {
                const accepted = acceptedByHook(stdout);
                return bySite(current.map((secret, i) => [secret, ...(accepted[hookId(settings.sites[i])] ?? [])]));
            }),
        );

        const hooks = hostFile(`${name}-hooks`, { connection, ...hooksSpec, content: transitionalHooks }, childOptions(this, opts));
        // Before the service step: a start (first up, host restart) waits until the receiver listens.
        // Its own file, so that this step's changes never reach the service step's triggers.
        const confFile = hostFile(`${name}-openrc-conf`, { connection, ...receiverConfDFile(settings) }, childOptions(this, opts));
        const initScript = receiverServiceFile(settings);
        const initFile = hostFile(`${name}-openrc-service`, { connection, ...initScript }, childOptions(this, opts));
        // The receiver reads the hooks file in place: started when it does not run, reloaded
        // (SIGUSR1: the port never closes) when it does, on create as on update. A new service
        // definition replaces this step: delete stops the receiver, create starts it. A receiver
        // may run when this step is created: on the first `up` of this release over a host set up
        // by selfpages 0.1, with that release's hooks file until the reload. A new hooks file is an
        // update of this step (its hash is in the update script). Releases before reloaded in a
        // step of their own, which had nothing to undo.
        const reloadScript = `${reload(service)}\nsleep 1\nrc-service ${service} status >/dev/null`;
        const applied = enableAndReloadOrStart(service, reloadScript);
        this.hooksApplied = hostCommand(
            `${name}-service`,
            {
                connection,
                create: `set -eu\n${applied}`,
                update: pulumi.interpolate`set -eu\n# the hooks file: sha256 ${contentHash(transitionalHooks)}\n${applied}`,
                delete: stopAndDisable(service),
                triggers: [sha256(receiverServiceIdentity(initScript.content))],
            },
            { ...childOptions(this, opts, [confFile, initFile, hooks]), deleteBeforeReplace: true },
        );

        // The receiver drops the other secrets only after GitHub switched.
        // Whether a secret is being retired is the one fact about the secrets this script reveals.
        const wait = pulumi.unsecret(pulumi.all([transitionalHooks, finalHooks]).apply(([transitional, final]) => (transitional === final ? "" : `sleep ${rotationGraceSeconds}\n`)));
        this.finish = (after) =>
            hostCommand(
                `${name}-retire-previous-secret`,
                {
                    connection,
                    create: pulumi.interpolate`${wait}${installFileScript(hooksSpec)}\n${reload(service)}`,
                    stdin: finalHooks,
                    triggers: [contentHash(transitionalHooks), contentHash(finalHooks)],
                },
                { parent: this, dependsOn: [...after, this.hooksApplied] },
            );
        this.registerOutputs({ hooksApplied: this.hooksApplied });
    }

    /** The final hooks file (only the current secrets), once GitHub's hooks switched to them. */
    retirePreviousSecrets(after: pulumi.Resource[]): pulumi.Resource {
        return this.finish(after);
    }
}
