import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crontabFile } from "../../lib/hostFiles";
import { assocSites, validConfig, validSitesConfig } from "../lib/fixtures";
import { createTempDir, tempDir } from "./support";

/**
 * The service account's crontab: one entry per site, the schedule from the settings, and a command
 * that /bin/sh (which cron runs it with) parses and runs as intended, with the site's sync.conf.
 */

const run = promisify(execFile);
const dir = tempDir("crontab");
beforeAll(() => createTempDir(dir));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const entries = (content: string) => content.split("\n").filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"));

describe.each(["alpine", "debian"] as const)("crontab (%s)", (osFamily) => {
    describe.each([
        ["the default schedule", {}, "*/15 * * * *"],
        ["a configured schedule", { syncSchedule: "*/5 * * * *" }, "*/5 * * * *"],
        ["a schedule with extra spaces", { syncSchedule: " 7  */2 * * 1-5 " }, "7 */2 * * 1-5"],
    ] as const)("with %s", (_label, overrides, schedule) => {
        const { settings } = validConfig(overrides, osFamily);
        const file = crontabFile(settings);
        const syncScript = settings.layout.syncScript;

        it("has exactly one entry for the one site: five schedule fields, the sync script, --conf <its sync.conf> and `cron`", () => {
            const lines = entries(file.content);
            expect(lines).toHaveLength(1);
            const fields = lines[0].trim().split(/\s+/);
            expect(fields.slice(0, 5).join(" ")).toBe(schedule);
            expect(fields[5]).toBe(syncScript);
            expect(fields.slice(6, 8)).toEqual(["--conf", "/etc/selfpages/sites/selfpages/sync.conf"]);
            expect(fields[8]).toBe("cron");
            // Nothing after the argument but discarding the output (cron would mail it otherwise).
            expect(fields.slice(9)).toEqual([">/dev/null", "2>&1"]);
        });

        it("ends with a newline (cron ignores a last line without one) and has no CR or tab surprises", () => {
            expect(file.content.endsWith("\n")).toBe(true);
            expect(file.content).not.toMatch(/\r/);
            expect(file.content).not.toMatch(/\{\{|undefined|\[object Object\]/);
        });

        it("is the service user's whole crontab", () => {
            expect(file.path).toBe("crontab:selfpages");
            expect(file.owner).toBe("selfpages");
            expect(file.content).toMatch(/^# Managed by selfpages/);
        });

        it("has a command that sh parses and runs with the `cron` argument, output discarded", async () => {
            const command = entries(file.content)[0].trim().split(/\s+/).slice(5).join(" ");
            await run("sh", ["-n", "-c", command]);
            // Run the same command line with a stub in place of the sync script, as cron would (sh -c).
            const stub = path.join(dir, `sync-${osFamily}-${schedule.replace(/\W/g, "")}`);
            const record = `${stub}.args`;
            fs.writeFileSync(stub, `#!/bin/sh\nprintf '%s\\n' "$@" >${JSON.stringify(record)}\necho noise\necho more-noise >&2\n`, { mode: 0o755 });
            const { stdout, stderr } = await run("sh", ["-c", command.replace(syncScript, stub)]);
            expect(stdout).toBe("");
            expect(stderr).toBe("");
            expect(fs.readFileSync(record, "utf8")).toBe("--conf\n/etc/selfpages/sites/selfpages/sync.conf\ncron\n");
        });
    });

    it("has one entry per site, project sites included, each with its own sync.conf and the same schedule", () => {
        const { settings } = validSitesConfig(assocSites, { syncSchedule: "*/10 * * * *" }, osFamily);
        expect(entries(crontabFile(settings).content)).toEqual(
            ["main", "docs", "events"].map((name) => `*/10 * * * * /usr/local/lib/selfpages/sync --conf /etc/selfpages/sites/${name}/sync.conf cron >/dev/null 2>&1`),
        );
    });
});
