export * from "./connection";
export * from "./cron";
export * from "./nginx";
export * from "./packages";
export * from "./receiver";
export * from "./serviceAccount";
export * from "./site";
export * from "./staticSiteServer";
