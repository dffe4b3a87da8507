import * as util from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { runError } from "../../lib/runError";

describe("runError", () => {
    it("is a RunError whose message the runtime prints as it is, with no stack to inspect", () => {
        const error = runError("Invalid configuration for stack (nothing was changed)");
        expect(pulumi.RunError.isInstance(error)).toBe(true);
        expect(error.stack).toBeUndefined();
        expect(error.message).toBe("Invalid configuration for stack (nothing was changed)");
    });

    it("stays cheap to inspect with colors, as the runtime does for its tracing span", () => {
        const error = runError("bad value");
        const started = Date.now();
        expect(util.inspect(error, { colors: true }).length).toBeLessThan(1000);
        expect(Date.now() - started).toBeLessThan(1000);
    });
});
