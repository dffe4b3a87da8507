import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { recordSourcePositionsOnly } from "../../lib/sourcePositions";

type Frame = { uri: string; line: number; column: number } | undefined;
const sdk = pulumi.Resource as unknown as { stackTrace(skip: number): Frame[] };

// Called the way the SDK's Resource constructor calls it, one level down: skip 1 is this function's caller.
function declaredHere(): Frame[] {
    return sdk.stackTrace(1);
}

describe("recordSourcePositionsOnly", () => {
    it("finds the SDK's stack trace where it was (a new SDK that moves it fails here)", () => {
        expect(typeof sdk.stackTrace).toBe("function");
        expect(declaredHere().length).toBeGreaterThan(2);
    });

    it("keeps one frame, the same first frame as before: the source position", () => {
        const [before] = declaredHere();
        recordSourcePositionsOnly();
        recordSourcePositionsOnly();
        const after = declaredHere();
        expect(after).toHaveLength(1);
        expect(after[0]?.uri).toBe(before?.uri);
        expect(after[0]?.uri).toMatch(/sourcePositions\.test\.ts$/);
        expect(after[0]?.line).toBe(before?.line);
    });
});
