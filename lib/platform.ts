/**
 * Everything that differs between Alpine (the production VM) and Debian with OpenRC (the sandbox
 * host and the other supported family), in one place. Components and templates take these values
 * instead of testing the OS themselves.
 */
export interface Platform {
    family: "alpine" | "debian";
    /** Value of ID in /etc/os-release, checked before anything is changed. */
    osReleaseId: string;
    /** Distro packages the server needs. Left installed by `pulumi destroy`. */
    packages: string[];
    /** True when every package is installed: lets a re-run skip the package manager (and the network). */
    packagesPresentCommand: string;
    /** Installs the packages (with the repository setup they need). */
    packagesInstallCommand: string;
    /** Where our server block goes: a directory nginx.conf includes. */
    nginxSiteConfPath: string;
    /** The distro's catch-all site, which would otherwise answer for our server on port 80. */
    nginxDefaultSitePath: string;
    /** OpenRC service of the cron daemon. */
    cronService: string;
    /** Creates the unprivileged service account and its group, if missing. */
    createServiceAccountCommand: (user: string) => string;
    removeServiceAccountCommand: (user: string) => string;
    webhookBinary: string;
    /** run-parts directory root's stock crontab runs once a day: the certificate renewal goes there. */
    dailyJobDir: string;
    /** Local CA certificates (*.crt) added to the system store by update-ca-certificates. */
    localCaDir: string;
    /** The HTTP-01 webroot hook shipped with the uacme package. */
    acmeHook: string;
}

// The service account's shell: no logins.
const alpineNologin = "/sbin/nologin";
const debianNologin = "/usr/sbin/nologin";
// uacme is the ACME client; openssl makes the placeholder certificate nginx starts with (see components/tls.ts).
// curl: the deploy reporter's HTTP client (deployments in GitHub), a package on both families.
// brotli (the CLI the sync precompresses with) and nginx's brotli_static module.
const alpinePackages = ["nginx", "git", "webhook", "openrc", "busybox", "ca-certificates", "uacme", "openssl", "curl", "brotli", "nginx-mod-http-brotli"];
const debianPackages = ["nginx", "git", "webhook", "openrc", "cron", "util-linux", "ca-certificates", "gzip", "uacme", "openssl", "curl", "brotli", "libnginx-mod-http-brotli-static"];

const alpine: Platform = {
    family: "alpine",
    osReleaseId: "alpine",
    packages: alpinePackages,
    packagesPresentCommand: `apk info -e ${alpinePackages.join(" ")} >/dev/null`,
    // webhook lives in the community repository, which a fresh setup-alpine may leave commented out.
    packagesInstallCommand: [
        "if ! grep -Eq '^[^#].*/community/?$' /etc/apk/repositories; then",
        "  if grep -Eq '^#.*/community/?$' /etc/apk/repositories; then sed -i -E 's|^#[[:space:]]*(.*/community/?)$|\\1|' /etc/apk/repositories;",
        "  else sed -n -E 's|^([^#].*)/main/?$|\\1/community|p' /etc/apk/repositories | head -n 1 >> /etc/apk/repositories; fi",
        "fi",
        `apk update && apk add --no-cache ${alpinePackages.join(" ")}`,
    ].join("\n"),
    nginxSiteConfPath: "/etc/nginx/http.d/selfpages.conf",
    nginxDefaultSitePath: "/etc/nginx/http.d/default.conf",
    cronService: "crond",
    createServiceAccountCommand: (user) =>
        `getent group ${user} >/dev/null || addgroup -S ${user}\nid -u ${user} >/dev/null 2>&1 || adduser -S -D -H -h /var/lib/${user} -s ${alpineNologin} -G ${user} ${user}`,
    removeServiceAccountCommand: (user) => `if id -u ${user} >/dev/null 2>&1; then deluser ${user}; fi\nif getent group ${user} >/dev/null; then delgroup ${user} 2>/dev/null || true; fi`,
    webhookBinary: "/usr/bin/webhook",
    dailyJobDir: "/etc/periodic/daily",
    localCaDir: "/usr/local/share/ca-certificates",
    acmeHook: "/usr/share/uacme/uacme.sh",
};

const debian: Platform = {
    family: "debian",
    osReleaseId: "debian",
    packages: debianPackages,
    packagesPresentCommand: `dpkg-query -W -f='\${Status}\\n' ${debianPackages.join(" ")} 2>/dev/null | grep -c '^install ok installed$' | grep -qx ${debianPackages.length}`,
    packagesInstallCommand: `export DEBIAN_FRONTEND=noninteractive\napt-get update && apt-get install -y --no-install-recommends ${debianPackages.join(" ")}`,
    nginxSiteConfPath: "/etc/nginx/conf.d/selfpages.conf",
    nginxDefaultSitePath: "/etc/nginx/sites-enabled/default",
    cronService: "cron",
    createServiceAccountCommand: (user) =>
        `id -u ${user} >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /var/lib/${user} --shell ${debianNologin} ${user}`,
    removeServiceAccountCommand: (user) => `if id -u ${user} >/dev/null 2>&1; then userdel ${user}; fi\nif getent group ${user} >/dev/null; then groupdel ${user} 2>/dev/null || true; fi`,
    webhookBinary: "/usr/bin/webhook",
    dailyJobDir: "/etc/cron.daily",
    localCaDir: "/usr/local/share/ca-certificates",
    acmeHook: "/usr/share/uacme/uacme.sh",
};

export const platforms: Record<Platform["family"], Platform> = { alpine, debian };
