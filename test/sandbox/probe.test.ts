import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeUntilStopped, type ProbeTarget } from "../../sandbox/probe";

describe("sandbox/probe.ts: the probe loop of the tests and the drills", () => {
    let server: http.Server;
    let url = "";
    let answer = 200;
    beforeAll(async () => {
        server = http.createServer((_req, res) => res.writeHead(answer).end());
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const status = (target: string) => new Promise<{ status: number }>((resolve, reject) => http.get(target, { agent: false }, (res) => res.resume().on("end", () => resolve({ status: res.statusCode ?? 0 }))).on("error", reject));

    it("counts every answer by status, names each one that is not 200, and asks for the targets anew each round", async () => {
        let targets: ProbeTarget[] = [{ label: "up", request: () => status(url) }];
        const stop = probeUntilStopped(() => targets, 5);
        await new Promise((resolve) => setTimeout(resolve, 60));
        answer = 503;
        await new Promise((resolve) => setTimeout(resolve, 60));
        // A target added while the probe runs, whose requests never get an answer: status 0.
        targets = [...targets, { label: "down", request: () => status("http://127.0.0.1:1/") }];
        await new Promise((resolve) => setTimeout(resolve, 60));
        const report = await stop();
        answer = 200;
        expect(report.count).toBe(Object.values(report.statuses).reduce((a, b) => a + b, 0));
        expect(report.statuses["200"]).toBeGreaterThan(0);
        expect(report.statuses["503"]).toBeGreaterThan(0);
        expect(report.statuses["0"]).toBeGreaterThan(0);
        expect(report.failures.length).toBe(report.count - report.statuses["200"]);
        expect(report.failures).toContain("up: 503");
        expect(report.failures).toContain("down: 0");
        expect(report.failures.filter((f) => f.startsWith("down")).every((f) => f === "down: 0")).toBe(true);
    });

    it("stops after the round it is in: no request starts once stop() resolved", async () => {
        let requests = 0;
        const stop = probeUntilStopped(() => [{ label: "counted", request: async () => (requests++, { status: 200 }) }], 1);
        await new Promise((resolve) => setTimeout(resolve, 20));
        const report = await stop();
        const after = requests;
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(requests).toBe(after);
        expect(report.count).toBe(after);
        expect(report.failures).toEqual([]);
    });
});
