import { describe, expect, it } from "vitest";
import { declareFleet } from "../../components";
import { sitesValues, testDeploymentsToken, testPrivateKey, testToken, validConfig } from "../lib/fixtures";
import { isSecretValue, registerUnderMocks, remoteCommandType, type Registered } from "./harness";

const environmentType = "pulumi-nodejs:dynamic/selfpages:GitHubEnvironment";

async function declare(overrides: Record<string, string> = {}): Promise<Registered[]> {
    const { settings, secrets } = validConfig(overrides);
    return registerUnderMocks(() => {
        declareFleet({ settings, secrets });
    });
}

const byName = (resources: Registered[], name: string): Registered => {
    const found = resources.find((r) => r.name === name);
    if (!found) throw new Error(`no resource ${name}; have ${resources.map((r) => r.name).join(", ")}`);
    return found;
};

/** Every resource `name` depends on, directly, through its dependencies' or its parents' dependencies. */
function dependsOnTransitively(resources: Registered[], name: string): Set<string> {
    const byUrn = new Map(resources.map((r) => [r.name, r]));
    const seen = new Set<string>();
    const visit = (r: Registered | undefined) => {
        if (!r) return;
        for (const urn of r.dependencies) {
            const dep = byUrn.get(urn.split("::").pop() ?? "");
            if (dep && !seen.has(dep.name)) {
                seen.add(dep.name);
                visit(dep);
            }
        }
    };
    visit(byName(resources, name));
    return seen;
}

describe("deployments in GitHub, under mocks", () => {
    it("without githubDeploymentsToken: no environment, no reporter, no token file", async () => {
        const resources = await declare();
        expect(resources.filter((r) => r.type === environmentType || r.type === "selfpages:deployments:Deployments" || r.name.includes("deployments"))).toEqual([]);
    });

    it("with it: the environment (made with the stack's token), the token file and the reporter, before the site's first deploy", async () => {
        const resources = await declare({ githubDeploymentsToken: testDeploymentsToken, githubEnvironment: "www" });
        expect(resources.filter((r) => r.parent.endsWith("selfpages:deployments:Deployments::selfpages-deployments")).map((r) => `${r.type} ${r.name}`).sort()).toEqual([
            `${remoteCommandType} selfpages-deployments-reporter`,
            `${remoteCommandType} selfpages-deployments-token`,
            `${environmentType} selfpages-deployments-environment`,
        ]);
        // The reporter's parameters are the site's, beside its sync.conf.
        expect(byName(resources, "selfpages-site-reporter-config").parent).toMatch(/selfpages:site:Site::selfpages-site$/);
        // Its files go into directories the one directories step made before.
        for (const file of ["selfpages-deployments-token", "selfpages-deployments-reporter", "selfpages-site-reporter-config"]) {
            expect(dependsOnTransitively(resources, file), file).toContain("selfpages-directories-install");
        }
        expect(dependsOnTransitively(resources, "selfpages-site-reporter-config")).toContain("selfpages-site-own-directories");

        const environment = byName(resources, "selfpages-deployments-environment");
        expect(environment.inputs).toMatchObject({ apiUrl: "https://api.github.com", owner: "do-it-ecm", repo: "do-it", name: "www", token: testToken });
        expect(isSecretValue(environment.wire.token)).toBe(true);

        const token = byName(resources, "selfpages-deployments-token");
        expect(token.inputs.stdin).toBe(`Authorization: Bearer ${testDeploymentsToken}\n`);
        expect(isSecretValue(token.wire.stdin)).toBe(true);
        expect(token.inputs.create).toMatch(/chown 'selfpages:selfpages' "\$tmp"\nchmod 0600 "\$tmp"\nmv -f "\$tmp" "\$target"/);
        expect(token.inputs.create).toContain("target='/etc/selfpages/github-deployments.header'");
        expect(token.inputs.delete).toBe("rm -f '/etc/selfpages/github-deployments.header'");

        const reporter = byName(resources, "selfpages-deployments-reporter");
        expect(reporter.inputs.create).toContain("target='/usr/local/lib/selfpages/deploy-report'");
        expect(reporter.inputs.create).toMatch(/chown 'root:root' "\$tmp"\nchmod 0755/);
        const config = byName(resources, "selfpages-site-reporter-config");
        expect(config.inputs.create).toContain("target='/etc/selfpages/sites/selfpages/deploy-report.conf'");
        expect(String(config.inputs.stdin)).toContain("ENVIRONMENT='www'");
        expect(String(config.inputs.stdin)).toContain("ENVIRONMENT_URL='https://do-it.example.org/'");

        const firstDeploy = dependsOnTransitively(resources, "selfpages-site-first-deploy");
        for (const before of ["selfpages-deployments-token", "selfpages-deployments-reporter", "selfpages-site-reporter-config", "selfpages-deployments-environment", "selfpages-account-user"]) expect(firstDeploy, before).toContain(before);
        expect(dependsOnTransitively(resources, "selfpages-deployments-token")).toContain("selfpages-account-user");
    });

    it("puts neither token in a plain input or a command line", async () => {
        const resources = await declare({ githubDeploymentsToken: testDeploymentsToken });
        for (const resource of resources) {
            for (const [key, value] of Object.entries(resource.wire)) {
                if (isSecretValue(value)) continue;
                const text = JSON.stringify(value);
                for (const secret of [testToken, testDeploymentsToken, testPrivateKey.split("\n")[1]]) expect(text, `${resource.name}.${key}`).not.toContain(secret);
            }
        }
        for (const command of resources.filter((r) => r.type === remoteCommandType)) {
            for (const script of [command.inputs.create, command.inputs.update, command.inputs.delete]) expect(String(script ?? ""), command.name).not.toContain(testDeploymentsToken);
        }
    });

    it("leaves the site's resources and their triggers as they are when turned on", async () => {
        // Every step but the reporter's own (its program, token and each site's parameters).
        const commands = (resources: Registered[]) =>
            Object.fromEntries(resources.filter((r) => r.type === remoteCommandType && !/deployments|reporter/.test(r.name)).map((c) => [c.name, JSON.stringify([c.inputs.triggers ?? null, c.inputs.create, c.inputs.stdin ?? null])]));
        const off = commands(await declare());
        const on = commands(await declare({ githubDeploymentsToken: testDeploymentsToken }));
        expect(on).toEqual(off);
    });

    it("with several sites: an environment per repository, each site's parameters with its own URL, before its first deploy", async () => {
        const sites = [
            { name: "main", repository: "assoc/site", serverNames: ["assoc.example.org"] },
            { name: "docs", repository: "assoc/docs", parent: "main", path: "docs" },
            // Another branch of the main site's repository: the same environment.
            { name: "preview", repository: "assoc/site", branch: "preview", serverNames: ["preview.assoc.example.org"] },
        ];
        const resources = await declare(sitesValues(sites, { githubDeploymentsToken: testDeploymentsToken }));
        const environments = resources.filter((r) => r.type === environmentType);
        expect(environments.map((e) => [e.name, e.inputs.owner, e.inputs.repo])).toEqual([
            ["main-deployments-environment", "assoc", "site"],
            ["docs-deployments-environment", "assoc", "docs"],
        ]);
        for (const [site, url] of [["main", "https://assoc.example.org/"], ["docs", "https://assoc.example.org/docs/"], ["preview", "https://preview.assoc.example.org/"]]) {
            const config = byName(resources, `${site}-site-reporter-config`);
            expect(config.inputs.create).toContain(`target='/etc/selfpages/sites/${site}/deploy-report.conf'`);
            expect(String(config.inputs.stdin)).toContain(`ENVIRONMENT_URL='${url}'`);
            const firstDeploy = dependsOnTransitively(resources, `${site}-site-first-deploy`);
            for (const before of [`${site}-site-reporter-config`, "selfpages-deployments-reporter", "selfpages-deployments-token", ...environments.map((e) => e.name)]) expect(firstDeploy, `${site}: ${before}`).toContain(before);
        }
    });
});
