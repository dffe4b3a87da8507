import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { filesDir, shippedProgram } from "../../lib/hostFiles";

const programs = fs.readdirSync(filesDir).filter((name) => name.endsWith(".sh"));

/** The program as bash's parser sees it: the body of a function, printed back without comments. */
function parsed(program: string): string {
    return execFileSync("bash", ["-c", 'eval "f() {\n$PROGRAM\n}" && declare -f f'], { env: { ...process.env, PROGRAM: program }, encoding: "utf8" });
}

describe("shippedProgram", () => {
    it.each(programs)("%s: the host gets the same program, by bash's own parser", (name) => {
        const source = fs.readFileSync(path.join(filesDir, name), "utf8");
        const shipped = shippedProgram(source);
        expect(parsed(shipped)).toBe(parsed(source));
        // Each run of sh reads it the same way too, and shellcheck finds in it what it finds in the source (nothing).
        execFileSync("sh", ["-n"], { input: shipped });
        execFileSync("shellcheck", ["-s", "sh", "-"], { input: shipped });
    });

    it.each(programs)("%s: keeps the header (what it is, how it is called) and drops the comments inside", (name) => {
        const source = fs.readFileSync(path.join(filesDir, name), "utf8");
        const shipped = shippedProgram(source);
        const header = source.split("\n").slice(0, source.split("\n").findIndex((line, i) => i > 0 && !line.startsWith("#")));
        expect(shipped.startsWith(`${header.join("\n")}\n`)).toBe(true);
        expect(header[1]).toMatch(/^# Managed by selfpages/);
        expect(shipped.length).toBeLessThan(source.length);
    });

    it("keeps what only looks like a comment (lines of a quoted awk program, a here-document's text) and shellcheck's directives", () => {
        const source = ["#!/bin/sh", "# header", "x=1", "# dropped", "# shellcheck disable=SC2034", "awk '", "  # an awk comment", "  { print }", "'", "cat <<EOF", "# text", "EOF", "  # dropped too", "echo done # trailing, kept with its line"].join("\n");
        expect(shippedProgram(source).split("\n")).toEqual(["#!/bin/sh", "# header", "x=1", "# shellcheck disable=SC2034", "awk '", "  # an awk comment", "  { print }", "'", "cat <<EOF", "# text", "EOF", "echo done # trailing, kept with its line"]);
    });

    it("makes the sync program's compressed copy, kept twice per server in the state, a third smaller at least", () => {
        const source = fs.readFileSync(path.join(filesDir, "sync.sh"), "utf8");
        const gzipped = (text: string) => zlib.gzipSync(text, { level: 9 }).length;
        expect(gzipped(shippedProgram(source))).toBeLessThan(gzipped(source) * 0.67);
    });
});
