import { describe, expect, it } from "vitest";
import { declareFleet } from "../../components";
import { fleetServers, sitesValues, testDeploymentsToken, validConfig, validFleetConfig } from "../lib/fixtures";
import { githubWebhookType, randomPasswordType, registerUnderMocks, remoteCommandType, type Registered } from "./harness";

const localCommandType = "command:local:Command";
const twoSites = [
    { name: "main", repository: "assoc/site", serverNames: ["assoc.example.org"] },
    { name: "gala", repository: "assoc/gala", serverNames: ["gala.example.org"] },
];

async function declareWith(config: ReturnType<typeof validFleetConfig>, preflightFailures?: Record<string, string>): Promise<Registered[]> {
    return registerUnderMocks(() => {
        declareFleet({ ...config, preflightFailures });
    });
}

const byName = (resources: Registered[], name: string): Registered => {
    const found = resources.find((r) => r.name === name);
    if (!found) throw new Error(`no resource ${name}; have ${resources.map((r) => r.name).join(", ")}`);
    return found;
};
/** The names of the resources a URN list points at. */
const names = (urns: string[]) => urns.map((urn) => urn.split("::").pop());

describe("a fleet under mocks", () => {
    it("declares each server's resources once, the first under the one-server form's names, the others under their own", async () => {
        const resources = await declareWith(validFleetConfig(fleetServers, { ...sitesValues(twoSites), githubDeploymentsToken: testDeploymentsToken }));
        const servers = resources.filter((r) => r.type === "selfpages:index:StaticSiteServer").map((r) => r.name);
        expect(servers).toEqual(["selfpages", "web2", "web3"]);
        // No two resources share a type and a name (the engine would refuse the duplicate URN).
        const keys = resources.map((r) => `${r.type}::${r.name}`);
        expect(keys.length).toBe(new Set(keys).size);
        for (const site of ["main", "gala"]) {
            expect(resources.filter((r) => r.type === "selfpages:site:Site").map((r) => r.name)).toContain(`${site}-site`);
            expect(resources.filter((r) => r.type === "selfpages:site:Site").map((r) => r.name)).toContain(`web2.${site}-site`);
            expect(resources.filter((r) => r.type === "selfpages:site:Site").map((r) => r.name)).toContain(`web3.${site}-site`);
        }
        // Each command of a server goes to that server.
        for (const [server, address] of [["web2", "203.0.113.11"], ["web3", "2001:db8::3"]]) {
            const ready = byName(resources, `${server}-host-ready`);
            expect((ready.inputs.connection as { host: string }).host).toBe(address);
        }
        expect((byName(resources, "web2-host-ready").inputs.connection as { port: number }).port).toBe(2222);
    });

    it("shares one secret per site, and gives GitHub one hook per site and server at the server's address", async () => {
        const resources = await declareWith(validFleetConfig(fleetServers, sitesValues(twoSites)));
        expect(resources.filter((r) => r.type === randomPasswordType).map((r) => r.name).sort()).toEqual(["gala-receiver-secret-v1", "main-receiver-secret-v1"]);
        const hooks = resources.filter((r) => r.type === githubWebhookType);
        expect(hooks.map((h) => [h.name, h.inputs.url]).sort()).toEqual(
            [
                ["main-github-webhook", "http://203.0.113.10/webhook/main"],
                ["gala-github-webhook", "http://203.0.113.10/webhook/gala"],
                ["web2.main-github-webhook", "http://203.0.113.11/webhook/main"],
                ["web2.gala-github-webhook", "http://203.0.113.11/webhook/gala"],
                ["web3.main-github-webhook", "http://[2001:db8::3]/webhook/main"],
                ["web3.gala-github-webhook", "http://[2001:db8::3]/webhook/gala"],
            ].sort(),
        );
        // Every hook of a site carries that site's one secret.
        const secretOf = (name: string) => byName(resources, name).inputs.secret;
        expect(secretOf("web3.main-github-webhook")).toBe(secretOf("main-github-webhook"));
        expect(secretOf("web2.gala-github-webhook")).not.toBe(secretOf("web2.main-github-webhook"));
    });

    it("switches GitHub's hooks only when every receiver accepts the secrets, and retires old secrets only after every hook switched", async () => {
        const resources = await declareWith(validFleetConfig(fleetServers, sitesValues(twoSites)));
        const hooks = resources.filter((r) => r.type === githubWebhookType).map((r) => r.name);
        for (const hook of hooks) {
            const deps = names(byName(resources, hook).dependencies);
            for (const server of ["selfpages", "web2", "web3"]) expect(deps, hook).toContain(`${server}-receiver-service`);
            // Delivered over HTTP to the server's address: the lead's certificate orders run meanwhile.
            expect(deps.filter((dep) => dep?.endsWith("certificate-issue")), hook).toEqual([]);
        }
        for (const server of ["selfpages", "web2", "web3"]) {
            const deps = names(byName(resources, `${server}-receiver-retire-previous-secret`).dependencies);
            for (const hook of hooks) expect(deps, server).toContain(hook);
        }
    });

    it("provisions the servers in parallel: no step of one server waits for another's", async () => {
        const resources = await declareWith(validFleetConfig(fleetServers, sitesValues(twoSites)));
        const commands = resources.filter((r) => r.type === remoteCommandType);
        const owner = (name: string) => (/^web[23][-.]/.test(name) ? name.slice(0, 4) : "selfpages");
        // But for the certificates with TLS: a peer's first pull waits for the lead's issuance, and
        // the lead allows the peers' keys (test/components/fleetCertificates.test.ts).
        const certificateSharing = (name: string) => name.endsWith("-certificate-pull-pull") || name.startsWith("selfpages-certificate-export-peer-");
        for (const command of commands.filter((c) => !c.name.endsWith("-retire-previous-secret") && !certificateSharing(c.name))) {
            for (const dep of names(command.dependencies)) {
                const target = resources.find((r) => r.name === dep);
                if (target?.type !== remoteCommandType) continue;
                expect(owner(dep as string), `${command.name} -> ${dep}`).toBe(owner(command.name));
            }
        }
    });

    it("reports deploys to GitHub from the first server only: one deployment per commit per site", async () => {
        const resources = await declareWith(validFleetConfig(fleetServers, { ...sitesValues(twoSites), githubDeploymentsToken: testDeploymentsToken }));
        const reporters = resources.filter((r) => r.type === "selfpages:deployments:Deployments").map((r) => r.name);
        expect(reporters).toEqual(["selfpages-deployments"]);
        // The reporter's parameters, each site's, on the first server only: the others have no reporter to read them.
        const configs = resources.filter((r) => r.name.endsWith("-site-reporter-config")).map((r) => r.name);
        expect(configs.sort()).toEqual(["gala-site-reporter-config", "main-site-reporter-config"]);
        // They list every other server's URL of the site's commit, at its address (nginx answers there).
        for (const site of ["main", "gala"]) {
            const config = String(byName(resources, `${site}-site-reporter-config`).inputs.stdin);
            expect(config).toContain(`PEERS='web2=http://203.0.113.11/selfpages/${site}/commit web3=http://[2001:db8::3]/selfpages/${site}/commit'\n`);
        }
        // And every server answers there for each site, in the server block of its own address.
        for (const [server, address] of [["selfpages", "203.0.113.10"], ["web2", "203.0.113.11"], ["web3", "[2001:db8::3]"]]) {
            const nginx = String(byName(resources, `${server}-nginx-site-config`).inputs.stdin);
            const block = nginx.slice(nginx.indexOf(`server_name ${address};`), nginx.indexOf("# ---- site "));
            for (const site of ["main", "gala"]) expect(block, server).toContain(`location = /selfpages/${site}/commit {\n        alias /srv/selfpages/sites/${site}/current/.selfpages-commit;`);
        }
    });

    it("one server: its reporter waits for no peer", async () => {
        const resources = await registerUnderMocks(() => {
            declareFleet(validConfig({ githubDeploymentsToken: testDeploymentsToken }));
        });
        expect(String(byName(resources, "selfpages-site-reporter-config").inputs.stdin)).toContain("PEERS=''\n");
    });

    it("a server that failed its preflight: its steps wait on a local step failing with the reason; the others do not", async () => {
        const reason = "server web2 (203.0.113.11): preflight failed, its steps are skipped until it passes: connect ECONNREFUSED";
        const resources = await declareWith(validFleetConfig(fleetServers, sitesValues(twoSites)), { web2: reason });
        const gates = resources.filter((r) => r.type === localCommandType);
        expect(gates.map((g) => g.name)).toEqual(["web2-host-preflight"]);
        expect((gates[0].inputs.environment as Record<string, string>).REASON).toBe(reason);
        expect(gates[0].inputs.create).toMatch(/exit 1/);
        expect(names(byName(resources, "web2-host-ready").dependencies)).toContain("web2-host-preflight");
        expect(names(byName(resources, "web3-host-ready").dependencies)).not.toContain("web2-host-preflight");
    });

    it("the one-server form declares no preflight step and hooks at the site's URL", async () => {
        const resources = await registerUnderMocks(() => {
            declareFleet(validConfig());
        });
        expect(resources.filter((r) => r.type === localCommandType)).toEqual([]);
        expect(resources.filter((r) => r.type === githubWebhookType).map((h) => [h.name, h.inputs.url])).toEqual([["selfpages-github-webhook", "https://do-it.example.org/webhook"]]);
        // An https URL: GitHub's first delivery needs the certificate.
        expect(names(byName(resources, "selfpages-github-webhook").dependencies)).toContain("selfpages-certificate-issue");
    });
});
