import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export interface WebhookSecretsArgs {
    /** The rotation keeper: changing it generates a new secret (see Receiver for the switch-over). */
    version: number;
}

/**
 * The webhook secret, generated in the stack: a RandomPassword per version, so bumping
 * `webhookSecretVersion` makes a new one. The receiver keeps accepting the secret it had until
 * GitHub has switched, reading it from the host, not from here.
 */
export class WebhookSecrets extends pulumi.ComponentResource {
    public readonly current: pulumi.Output<string>;

    constructor(name: string, args: WebhookSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:webhook:WebhookSecrets", name, {}, opts);
        // Letters and digits only: the value goes into a JSON hooks file and GitHub's hook config.
        const password = new random.RandomPassword(
            `${name}-v${args.version}`,
            { length: 48, special: false, keepers: { version: String(args.version) } },
            { parent: this },
        );
        // RandomPassword's result is a secret output already; say so where it is used as well.
        this.current = pulumi.secret(password.result);
        this.registerOutputs({});
    }
}
