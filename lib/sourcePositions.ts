import * as pulumi from "@pulumi/pulumi";

interface Frame {
    uri: string;
    line: number;
    column: number;
}
/** What the SDK keeps private: the frames it records with every resource it registers. */
type WithStackTrace = { stackTrace?: (skip: number) => Array<Frame | undefined> };

let applied = false;

/**
 * The state keeps each resource's source position (where the program declares it), not the whole
 * JavaScript stack the SDK records beside it (Resource.stackTrace: every frame down to the SDK's
 * runner, some 700 bytes per resource). The file backend writes the whole state after every step
 * of an `up`, so its size is paid once per step: the stacks were a tenth of a five-server stack's
 * state (bench/results.json, fleet). The first frame is the source position itself; the SDK
 * (3.248.0, pinned) keeps `stackTrace` private, hence the cast, and a test that breaks if it goes.
 */
export function recordSourcePositionsOnly(): void {
    const resource = pulumi.Resource as unknown as WithStackTrace;
    const stackTrace = resource.stackTrace;
    if (applied || typeof stackTrace !== "function") return;
    applied = true;
    // One more frame to skip: this wrapper's own, between the SDK's stackTrace and its caller.
    resource.stackTrace = (skip: number) => stackTrace.call(pulumi.Resource, skip + 1).slice(0, 1);
}
