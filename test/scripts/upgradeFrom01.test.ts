import { describe, expect, it } from "vitest";
import { step01Type, upgradeFrom01, type ExportedStack, type StateResource } from "../../scripts/upgradeFrom01";

/**
 * The one-time step's state rewrite, on a state shaped like one selfpages 0.1 leaves (its addresses,
 * types and dependencies; the drill in scripts/reliability/upgrade.ts runs it on a real one).
 */
const base = "urn:pulumi:prod::selfpages::";
const server = `${base}selfpages:index:StaticSiteServer::selfpages`;
const inServer = (type: string, name: string) => `${base}selfpages:index:StaticSiteServer$${type}::${name}`;
const receiver = inServer("selfpages:receiver:Receiver", "selfpages-receiver");
const inReceiver = (type: string, name: string) => `${base}selfpages:index:StaticSiteServer$selfpages:receiver:Receiver$${type}::${name}`;
const hookType = "pulumi-nodejs:dynamic/selfpages:GitHubWebhook";
const provider = `${base}pulumi:providers:pulumi-nodejs::default`;
const hostReady = inServer(`selfpages:connection:HostConnection$${step01Type}`, "selfpages-host-ready");
const hooksStep = inReceiver(step01Type, "selfpages-receiver-hooks");
const secret = inServer(`selfpages:webhook:WebhookSecrets$pulumi-nodejs:dynamic/selfpages:RandomSecret`, "selfpages-webhook-secret-v1");
const hook = inServer(hookType, "selfpages-github-webhook");
const retire = inReceiver(step01Type, "selfpages-receiver-retire-previous-secret");

function state01(): ExportedStack {
    const resources: StateResource[] = [
        { urn: `${base}pulumi:pulumi:Stack::selfpages-prod`, type: "pulumi:pulumi:Stack" },
        { urn: server, type: "selfpages:index:StaticSiteServer", parent: `${base}pulumi:pulumi:Stack::selfpages-prod` },
        { urn: provider, type: "pulumi:providers:pulumi-nodejs" },
        { urn: inServer("selfpages:connection:HostConnection", "selfpages-host"), type: "selfpages:connection:HostConnection", parent: server },
        { urn: hostReady, type: step01Type, parent: inServer("selfpages:connection:HostConnection", "selfpages-host"), inputs: { create: "true" } },
        { urn: receiver, type: "selfpages:receiver:Receiver", parent: server, dependencies: [hostReady] },
        { urn: hooksStep, type: step01Type, parent: receiver, dependencies: [hostReady], inputs: { create: "install", delete: "rm -f hooks.json" } },
        { urn: inServer("selfpages:webhook:WebhookSecrets", "selfpages-webhook-secret"), type: "selfpages:webhook:WebhookSecrets", parent: server },
        { urn: secret, type: "pulumi-nodejs:dynamic/selfpages:RandomSecret", parent: inServer("selfpages:webhook:WebhookSecrets", "selfpages-webhook-secret") },
        { urn: hook, type: hookType, parent: server, provider: `${provider}::0a1b`, dependencies: [hooksStep, secret], propertyDependencies: { secret: [secret], url: [] }, outputs: { hookId: 7 } },
        { urn: retire, type: step01Type, parent: receiver, dependencies: [hook, hooksStep], deletedWith: hooksStep },
    ];
    return { version: 3, deployment: { manifest: { version: "3.0" }, resources } };
}

/** Every parent, dependency and deletedWith names a resource listed earlier (what `stack import` needs). */
function referencesResolve(resources: StateResource[]): string[] {
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const r of resources) {
        for (const ref of [r.parent, ...(r.dependencies ?? []), ...Object.values(r.propertyDependencies ?? {}).flat(), r.deletedWith]) {
            if (ref !== undefined && !seen.has(ref)) problems.push(`${r.urn} -> ${ref}`);
        }
        seen.add(r.urn);
    }
    return problems;
}

describe("the one-time step from selfpages 0.1", () => {
    it("removes every 0.1 step from the state and every reference to one", () => {
        const { exported, dropped } = upgradeFrom01(state01());
        expect(dropped.sort()).toEqual([hostReady, hooksStep, retire].sort());
        const resources = exported.deployment.resources ?? [];
        expect(resources.filter((r) => r.type === step01Type)).toEqual([]);
        expect(JSON.stringify(resources)).not.toContain(step01Type);
        expect(referencesResolve(resources)).toEqual([]);
    });

    it("moves the GitHub hook under the receiver component, keeping its state and provider", () => {
        const { exported, moved } = upgradeFrom01(state01());
        const to = inReceiver(hookType, "selfpages-github-webhook");
        expect(moved).toEqual({ from: hook, to });
        const moves = (exported.deployment.resources ?? []).filter((r) => r.type === hookType);
        expect(moves).toHaveLength(1);
        expect(moves[0]).toMatchObject({ urn: to, parent: receiver, provider: `${provider}::0a1b`, dependencies: [secret], propertyDependencies: { secret: [secret], url: [] }, outputs: { hookId: 7 } });
    });

    it("leaves everything else as it was, in order", () => {
        const before = state01();
        const { exported } = upgradeFrom01(before);
        const untouched = (before.deployment.resources ?? []).filter((r) => r.type !== step01Type && r.type !== hookType && r.urn !== receiver);
        expect((exported.deployment.resources ?? []).filter((r) => untouched.some((u) => u.urn === r.urn))).toEqual(untouched);
        expect(exported.deployment.manifest).toEqual(before.deployment.manifest);
        expect(exported.version).toBe(3);
    });

    it("changes nothing on a stack that holds no 0.1 step, so running it twice is harmless", () => {
        const once = upgradeFrom01(state01()).exported;
        const twice = upgradeFrom01(once);
        expect(twice.dropped).toEqual([]);
        expect(twice.moved).toBeUndefined();
        expect(twice.exported).toEqual(once);
    });

    it("refuses a state with pending operations, or one it does not know, before changing anything", () => {
        const pending = state01();
        pending.deployment.pending_operations = [{ type: "creating" }];
        expect(() => upgradeFrom01(pending)).toThrow(/pending operation/);
        const noReceiver = state01();
        noReceiver.deployment.resources = noReceiver.deployment.resources?.filter((r) => r.urn !== receiver && r.parent !== receiver);
        expect(() => upgradeFrom01(noReceiver)).toThrow(/no receiver component/);
    });
});
