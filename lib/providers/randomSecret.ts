import * as pulumi from "@pulumi/pulumi";

/**
 * A random secret generated once and kept in state, replaced when a keeper changes: what
 * @pulumi/random's RandomPassword does for us, as a dynamic provider because the random provider
 * plugin cannot be built offline here (see README). The value is a secret output.
 */
export interface RandomSecretInputs {
    length: number;
    keepers: Record<string, string>;
}

export interface RandomSecretOutputs extends RandomSecretInputs {
    result: string;
}

export const randomSecretProvider: pulumi.dynamic.ResourceProvider<RandomSecretInputs, RandomSecretOutputs> = {
    async check(_olds, news) {
        const failures = Number.isInteger(news.length) && news.length >= 16 && news.length <= 256 ? [] : [{ property: "length", reason: "must be an integer from 16 to 256" }];
        return { inputs: news, failures };
    },

    async diff(_id, olds, news) {
        const replaces = (["length", "keepers"] as const).filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
        return { changes: replaces.length > 0, replaces };
    },

    async create(inputs) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { randomInt } = require("node:crypto") as typeof import("node:crypto");
        // Letters and digits only: the value goes into a JSON hooks file and GitHub's hook config.
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let result = "";
        for (let i = 0; i < inputs.length; i++) result += alphabet[randomInt(alphabet.length)];
        return { id: `secret-${randomInt(2 ** 40).toString(36)}`, outs: { ...inputs, result } };
    },
};

export class RandomSecret extends pulumi.dynamic.Resource {
    declare public readonly result: pulumi.Output<string>;

    constructor(name: string, args: { length: number; keepers: Record<string, pulumi.Input<string>> }, opts?: pulumi.CustomResourceOptions) {
        super(randomSecretProvider, name, { result: undefined, ...args }, { ...opts, additionalSecretOutputs: ["result"] }, "selfpages", "RandomSecret");
    }
}
