/**
 * The one-time step for a stack made by selfpages 0.1 (commit 77fbeec), before its first `up` with
 * a later release:
 *
 *     npx tsx scripts/upgradeFrom01.ts [--stack NAME]
 *     npm run -s pulumi -- up
 *
 * 0.1 ran each host step as a dynamic-provider resource (`selfpages:RemoteCommand`), some with a
 * delete script (rm -rf of the site, `crontab -r`, stopping the receiver). Later releases run the
 * same steps as @pulumi/command resources, which cannot take over that state (the command provider
 * refuses its `__provider` field), so an `up` straight from 0.1 would delete 0.1's steps, delete
 * scripts included. This step removes them from the state only (the host is not touched) and moves
 * the GitHub hook under the receiver component, where later releases declare it (the same hook, same
 * id). The `up` then creates the command steps, whose create scripts run on a host 0.1 set up.
 *
 * Through the project's Pulumi (`npm run -s pulumi -- stack export/import`): the state before is
 * kept in a private file whose path is printed. A stack without 0.1 steps is left as it is.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** 0.1's host steps (and the inert markers that later releases kept at their addresses until this one). */
export const step01Type = "pulumi-nodejs:dynamic/selfpages:RemoteCommand";
const hookType = "pulumi-nodejs:dynamic/selfpages:GitHubWebhook";
const serverType = "selfpages:index:StaticSiteServer";
const receiverType = "selfpages:receiver:Receiver";

/** The part of a resource's state this step reads or rewrites; the rest passes through untouched. */
export interface StateResource {
    urn: string;
    type: string;
    parent?: string;
    dependencies?: string[];
    propertyDependencies?: Record<string, string[]>;
    deletedWith?: string;
    [field: string]: unknown;
}

/** `pulumi stack export`'s document. */
export interface ExportedStack {
    version: number;
    deployment: { resources?: StateResource[]; pending_operations?: unknown[]; [field: string]: unknown };
}

export interface Upgrade {
    exported: ExportedStack;
    /** URNs removed from the state. */
    dropped: string[];
    /** The GitHub hook's URN before and after, when it moved. */
    moved?: { from: string; to: string };
}

/** A URN is `urn:pulumi:STACK::PROJECT::PARENT-TYPES$TYPE::NAME`. */
const urnParts = (urn: string) => {
    const [prefix, project, qualifiedType, ...name] = urn.split("::");
    return { prefix, project, qualifiedType, name: name.join("::") };
};

/** The state with 0.1's steps dropped and the hook under the receiver; throws on a state it does not know. */
export function upgradeFrom01(exported: ExportedStack): Upgrade {
    const pending = exported.deployment.pending_operations ?? [];
    if (pending.length > 0) throw new Error(`the stack has ${pending.length} pending operation(s) from an interrupted run: resolve them first (pulumi refresh)`);
    const resources = exported.deployment.resources ?? [];
    const dropped = new Set(resources.filter((r) => r.type === step01Type).map((r) => r.urn));
    if (dropped.size === 0) return { exported, dropped: [] };
    const orphaned = resources.filter((r) => !dropped.has(r.urn) && r.parent !== undefined && dropped.has(r.parent));
    if (orphaned.length > 0) throw new Error(`resources are parented to a 0.1 step, which this step does not expect: ${orphaned.map((r) => r.urn).join(", ")}`);

    // The hook's new address: under the receiver component that 0.1 declared beside it.
    const typeOf = new Map(resources.map((r) => [r.urn, r.type]));
    const hook = resources.find((r) => r.type === hookType && r.parent !== undefined && typeOf.get(r.parent) === serverType);
    let moved: { from: string; to: string; parent: string } | undefined;
    if (hook) {
        const receiver = resources.find((r) => r.type === receiverType && r.parent === hook.parent);
        if (!receiver) throw new Error(`no receiver component beside ${hook.urn} to move it under`);
        // State lists a parent before its children: 0.1 declared the receiver before the hook.
        if (resources.indexOf(receiver) > resources.indexOf(hook)) throw new Error(`${receiver.urn} comes after ${hook.urn} in the state`);
        const parts = urnParts(hook.urn);
        const to = [parts.prefix, parts.project, `${urnParts(receiver.urn).qualifiedType}$${hookType}`, parts.name].join("::");
        if (typeOf.has(to)) throw new Error(`${to} exists already`);
        moved = { from: hook.urn, to, parent: receiver.urn };
    }

    const rename = (urn: string) => (urn === moved?.from ? moved.to : urn);
    const kept = (urns: string[]) => urns.filter((u) => !dropped.has(u)).map(rename);
    const rewritten = resources
        .filter((r) => !dropped.has(r.urn))
        .map((r): StateResource => {
            const out: StateResource = { ...r, urn: rename(r.urn) };
            if (r.urn === moved?.from) out.parent = moved.parent;
            else if (r.parent !== undefined) out.parent = rename(r.parent);
            if (r.dependencies) out.dependencies = kept(r.dependencies);
            if (r.propertyDependencies) out.propertyDependencies = Object.fromEntries(Object.entries(r.propertyDependencies).map(([k, v]) => [k, kept(v)]));
            if (r.deletedWith !== undefined) {
                if (dropped.has(r.deletedWith)) delete out.deletedWith;
                else out.deletedWith = rename(r.deletedWith);
            }
            return out;
        });
    return {
        exported: { ...exported, deployment: { ...exported.deployment, resources: rewritten } },
        dropped: [...dropped],
        ...(moved ? { moved: { from: moved.from, to: moved.to } } : {}),
    };
}

function main(): void {
    const args = process.argv.slice(2);
    const at = args.indexOf("--stack");
    if ((at !== -1 && !args[at + 1]) || args.some((a, i) => a !== "--stack" && i !== at + 1)) {
        console.error("usage: npx tsx scripts/upgradeFrom01.ts [--stack NAME]");
        process.exit(2);
    }
    const stack = at === -1 ? [] : ["--stack", args[at + 1]];
    const pulumi = (...cli: string[]) => execFileSync("bash", [path.join(__dirname, "pulumi.sh"), ...cli, ...stack], { stdio: ["ignore", "inherit", "inherit"] });

    // The state holds the stack's secrets encrypted; the copies stay readable by this user only.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-upgrade-"));
    const before = path.join(dir, "before.json");
    pulumi("stack", "export", "--file", before);
    fs.chmodSync(before, 0o600);
    const upgrade = upgradeFrom01(JSON.parse(fs.readFileSync(before, "utf8")) as ExportedStack);
    if (upgrade.dropped.length === 0) {
        fs.rmSync(dir, { recursive: true, force: true });
        console.log("No selfpages 0.1 steps in this stack: nothing to do; `npm run -s pulumi -- up` as usual.");
        return;
    }
    const after = path.join(dir, "after.json");
    fs.writeFileSync(after, `${JSON.stringify(upgrade.exported, null, 2)}\n`, { mode: 0o600 });
    pulumi("stack", "import", "--file", after);
    fs.rmSync(after);
    console.log(`Removed ${upgrade.dropped.length} selfpages 0.1 step(s) from the state (the host was not touched):`);
    for (const urn of upgrade.dropped) console.log(`  ${urnParts(urn).name}`);
    if (upgrade.moved) console.log(`Moved the GitHub hook under the receiver:\n  ${upgrade.moved.from}\n  -> ${upgrade.moved.to}`);
    console.log(`The state before this step: ${before} (remove it once \`up\` succeeded).`);
    console.log("Now run: npm run -s pulumi -- up");
}

if (require.main === module) main();
