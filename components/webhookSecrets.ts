import * as pulumi from "@pulumi/pulumi";
import { RandomSecret } from "../lib/providers/randomSecret";

export interface WebhookSecretsArgs {
    /** The rotation keeper: bumping it by one generates a new secret and keeps the old one valid. */
    version: number;
}

/**
 * The webhook secret, generated in the stack. Each version is its own RandomSecret, so the
 * previous version's value is still in state while GitHub switches to the new one.
 */
export class WebhookSecrets extends pulumi.ComponentResource {
    public readonly current: pulumi.Output<string>;
    public readonly previous: pulumi.Output<string> | undefined;

    constructor(name: string, args: WebhookSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("selfpages:webhook:WebhookSecrets", name, {}, opts);
        const generate = (version: number) =>
            new RandomSecret(`${name}-v${version}`, { length: 48, keepers: { version: String(version) } }, { parent: this }).result;
        // Secret whatever the provider reports: the value must never reach state or logs in clear.
        this.current = pulumi.secret(generate(args.version));
        this.previous = args.version > 1 ? pulumi.secret(generate(args.version - 1)) : undefined;
        this.registerOutputs({});
    }
}
