import { execFileSync, spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { cpuSeconds, descendants, listProcs, machineBusySeconds, sampled, TreeSampler } from "../../scripts/procTree";

// The bench's memory figures come from this sampler: it must see a real tree, name its processes,
// and refuse to report when it saw nothing.
describe("process tree sampler", () => {
    it("samples a shell and its children while they run, by name, with their peak RSS", async () => {
        // A grandchild that holds 64 MB more than node's own for a second (long enough for a
        // loaded machine to run the sampler's timer a few times).
        const grow = `'${process.execPath}' -e 'const b = Buffer.alloc(64 << 20, 1); setTimeout(() => b.length, 1000)'`;
        const child = spawn("sh", ["-c", `sleep 0.3; ${grow}; sleep 0.3`], { stdio: "ignore" });
        const exited = new Promise((resolve) => child.once("exit", resolve));
        const [, tree] = await sampled("test tree", () => [child.pid!], () => exited, 10);
        expect(tree.samples).toBeGreaterThan(5);
        expect(Object.keys(tree.peakByNameKiB)).toEqual(expect.arrayContaining(["sh", "sleep", "node -e"]));
        expect(tree.largest.name).toBe("node -e");
        expect(tree.largest.peakKiB).toBeGreaterThan(64 * 1024);
        expect(tree.largest.peakAnonKiB).toBeGreaterThan(64 * 1024);
        expect(tree.peakSumRssKiB).toBeGreaterThanOrEqual(tree.largest.peakKiB * 0.9);
    });

    it("fails rather than report a tree it never saw", async () => {
        const sampler = new TreeSampler(() => [], 10).start();
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(() => sampler.stop("nothing")).toThrow(/no sample/);
    });

    it("counts a child's CPU once it exited, apart from this process's own, and the machine's busy time", () => {
        const before = cpuSeconds("self");
        const busyBefore = machineBusySeconds();
        // A grandchild under sh that spins for 300 ms of CPU: waited for, so counted with the child.
        execFileSync("sh", ["-c", `'${process.execPath}' -e 'const end = process.cpuUsage().user + 300e3; while (process.cpuUsage().user < end);'`]);
        const after = cpuSeconds("self");
        expect(after.children - before.children).toBeGreaterThanOrEqual(0.25);
        expect(after.own - before.own).toBeLessThan(0.25);
        expect(machineBusySeconds() - busyBefore).toBeGreaterThanOrEqual(0.25);
    });

    it("finds descendants through their parents", () => {
        const procs = listProcs();
        expect(procs.get(process.pid)?.ppid).toBe(process.ppid);
        expect(descendants(procs, [process.ppid])).toContain(process.pid);
    });
});
