import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gzipBase64, installFileScript } from "../../lib/hostCommand";

// The install script of a host file, run by this machine's sh on what its stdin would carry.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-install-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function install(script: string, stdin: string) {
    return spawnSync("sh", ["-c", script], { input: stdin, encoding: "utf8" });
}

const program = fs.readFileSync(path.join(__dirname, "..", "..", "files", "sync.sh"), "utf8");

describe("installFileScript", () => {
    it("installs a compressed program byte for byte, with its mode, from about half the bytes", () => {
        const target = path.join(dir, "bin", "sync");
        const stdin = gzipBase64(program);
        const result = install(installFileScript({ path: target, mode: "0755", owner: "root", group: "root", compressed: true }), stdin);
        expect(result.status, result.stderr).toBe(0);
        expect(fs.readFileSync(target, "utf8")).toBe(program);
        expect((fs.statSync(target).mode & 0o777).toString(8)).toBe("755");
        expect(stdin.length).toBeLessThan(program.length * 0.55);
        // No temporary file left beside it.
        expect(fs.readdirSync(path.dirname(target))).toEqual(["sync"]);
    });

    it("compresses deterministically: the same content is the same input", () => {
        expect(gzipBase64(program)).toBe(gzipBase64(program));
    });

    it("fails, leaving the previous file, when the compressed content is damaged", () => {
        const target = path.join(dir, "etc", "kept");
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, "previous\n");
        const damaged = gzipBase64(program).slice(0, 200);
        const result = install(installFileScript({ path: target, mode: "0644", owner: "root", group: "root", compressed: true }), damaged);
        expect(result.status).not.toBe(0);
        expect(fs.readFileSync(target, "utf8")).toBe("previous\n");
        expect(fs.readdirSync(path.dirname(target))).toEqual(["kept"]);
    });

    it("installs plain content as it comes", () => {
        const target = path.join(dir, "plain");
        const result = install(installFileScript({ path: target, mode: "0600", owner: "root", group: "root" }), "a=1\n");
        expect(result.status, result.stderr).toBe(0);
        expect(fs.readFileSync(target, "utf8")).toBe("a=1\n");
        expect((fs.statSync(target).mode & 0o777).toString(8)).toBe("600");
    });
});
