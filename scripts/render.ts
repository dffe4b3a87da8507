/**
 * Writes every file that would go to the host for a stack's config, opening no connection:
 *   npm run render -- --stack prod --out render-out
 * Secrets are not needed: the webhook secrets appear as placeholders.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, secretKeys, validateConfig } from "../lib/config";
import { allHostFiles, secretPlaceholder } from "../lib/hostFiles";
import { stackFileValues } from "../lib/stackConfig";

const placeholderSecrets: Record<string, string> = {
    hostPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nplaceholder\n-----END OPENSSH PRIVATE KEY-----\n",
    githubToken: "placeholder",
    githubDeploymentsToken: "placeholder_deployments_token",
};

/** The stack file's values, with stand-ins for the secrets: rendering needs none of them. */
export function stackValues(stackFile: string): Record<string, string> {
    const values = stackFileValues(stackFile);
    // An optional secret (githubDeploymentsToken) gets a stand-in only when the stack sets it.
    for (const key of secretKeys) if (key !== "githubDeploymentsToken" || values[key]) values[key] = placeholderSecrets[key];
    return values;
}

export function renderStack(stackFile: string, outDir: string): string[] {
    const { settings } = validateConfig("selfpages", stackValues(stackFile), () => true);
    // The hooks file as it stands after `up`: during the `up` of a rotation it briefly holds the
    // secrets the host accepted before as well (components/receiver.ts).
    const secrets = Object.fromEntries(settings.sites.map((site) => [site.name, [secretPlaceholder(`webhook-${site.name}-v${site.secretVersion}`)]]));
    const written: string[] = [];
    const manifest = [];
    for (const file of allHostFiles(settings, secrets)) {
        const relative = file.path.replace(/^crontab:/, "crontabs/").replace(/^\/+/, "");
        const target = path.join(outDir, relative);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, file.content);
        written.push(target);
        manifest.push({ path: file.path, mode: file.mode, owner: file.owner, group: file.group, source: file.source, renderedTo: relative });
    }
    fs.writeFileSync(path.join(outDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    return written;
}

function main(): void {
    const { values } = parseArgs({ options: { stack: { type: "string" }, out: { type: "string" } } });
    if (!values.stack || !values.out) {
        console.error("usage: npm run render -- --stack <name> --out <dir>");
        process.exit(2);
    }
    const stackFile = path.resolve(__dirname, "..", `Pulumi.${values.stack}.yaml`);
    if (!fs.existsSync(stackFile)) {
        console.error(`render: no stack file ${stackFile}`);
        process.exit(2);
    }
    try {
        for (const file of renderStack(stackFile, path.resolve(values.out))) console.log(file);
    } catch (error) {
        console.error(error instanceof ConfigError ? error.message : error);
        process.exit(1);
    }
}

if (require.main === module) main();
