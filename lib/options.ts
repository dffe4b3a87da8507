import * as pulumi from "@pulumi/pulumi";

/**
 * Options for a component's child resource. Pulumi does not pass a component's `dependsOn` down
 * to its children, so a child that must wait for what its component waits for gets it here.
 * (Our components are given plain resources or arrays of them, never an Output of a list.)
 */
export function childOptions(parent: pulumi.ComponentResource, opts: pulumi.ComponentResourceOptions | undefined, extra: pulumi.Input<pulumi.Resource>[] = []): pulumi.CustomResourceOptions {
    return { parent, dependsOn: [...dependsOnList(opts), ...extra] };
}

/** Options' `dependsOn` as a list (our components and steps are given plain resources or arrays of them). */
export function dependsOnList(opts: pulumi.ResourceOptions | undefined): pulumi.Input<pulumi.Resource>[] {
    if (opts?.dependsOn === undefined) return [];
    return Array.isArray(opts.dependsOn) ? (opts.dependsOn as pulumi.Input<pulumi.Resource>[]) : [opts.dependsOn as pulumi.Input<pulumi.Resource>];
}

/**
 * A component's own registration: its `dependsOn` left out (childOptions hands it to the children
 * that must wait). The engine skips a resource whose dependency failed; under `up
 * --continue-on-error` (a fleet with a server down), a component skipped that way fails its
 * registerOutputs ("cannot complete a resource whose registration isn't pending") and with it the
 * whole `up`. A component never registered with a dependency is never skipped; its children are.
 */
export function componentOptions(opts: pulumi.ComponentResourceOptions | undefined): pulumi.ComponentResourceOptions | undefined {
    if (opts?.dependsOn === undefined) return opts;
    const { dependsOn: _waitedForByTheChildren, ...own } = opts;
    return own;
}

/**
 * Where a step of the server's was kept by releases that gave each single-step concern its own
 * component (`type`, named `name`, under the same parent): the alias that carries the step over
 * to its place directly under the server, so that the upgrade neither creates nor deletes it.
 */
export function formerlyUnder(name: string, type: string, opts: pulumi.CustomResourceOptions): pulumi.Alias {
    if (!(opts.parent instanceof pulumi.Resource)) throw new Error(`${name}: a server step needs its server as parent`);
    return { parent: pulumi.createUrn(name, type, opts.parent) };
}
