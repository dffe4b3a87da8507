import * as pulumi from "@pulumi/pulumi";
import { StaticSiteServer } from "./components";
import { loadStackConfig } from "./lib/stackConfig";

// Validated before any resource is declared: bad config fails here, having touched nothing.
const { settings, secrets } = loadStackConfig();

const server = new StaticSiteServer("selfpages", {
    settings,
    hostPrivateKey: pulumi.secret(secrets.hostPrivateKey),
    githubToken: pulumi.secret(secrets.githubToken),
});

export const siteUrl = server.siteUrl;
export const webhookUrl = server.webhookUrl;
export const hookId = server.hookId;
