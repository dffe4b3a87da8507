import * as pulumi from "@pulumi/pulumi";

/**
 * Options for a component's child resource. Pulumi does not pass a component's `dependsOn` down
 * to its children, so a child that must wait for what its component waits for gets it here.
 * (Our components are given plain resources or arrays of them, never an Output of a list.)
 */
export function childOptions(parent: pulumi.ComponentResource, opts: pulumi.ComponentResourceOptions | undefined, extra: pulumi.Input<pulumi.Resource>[] = []): pulumi.CustomResourceOptions {
    const inherited = opts?.dependsOn === undefined ? [] : Array.isArray(opts.dependsOn) ? (opts.dependsOn as pulumi.Input<pulumi.Resource>[]) : [opts.dependsOn as pulumi.Input<pulumi.Resource>];
    return { parent, dependsOn: [...inherited, ...extra] };
}
