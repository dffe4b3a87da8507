import { shellQuote } from "./templates";

/**
 * Everything that differs between Alpine (the production VM) and Debian with OpenRC (the sandbox
 * host and the other supported family), in one place. Components and templates take these values
 * instead of testing the OS themselves.
 */
export interface Platform {
    family: "alpine" | "debian";
    /** Oldest release (VERSION_ID, major.minor) the host check accepts; none when any release goes. */
    oldestRelease?: string;
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
    /**
     * How the TLS server turns HTTP/2 on: the `http2` parameter of `listen` (nginx before 1.25.1,
     * which knows no `http2` directive), or `http2 on;` (1.25.1 and later, where the parameter logs
     * a deprecation warning on every load).
     */
    nginxHttp2: "listen-parameter" | "directive";
    /** OpenRC service of the cron daemon. */
    cronService: string;
    /** Creates the unprivileged service account and its group, if missing. */
    createServiceAccountCommand: (user: string) => string;
    removeServiceAccountCommand: (user: string) => string;
    /** run-parts directory root's stock crontab runs once a day: the certificate renewal goes there. */
    dailyJobDir: string;
    /**
     * Where a job that runs every 15 minutes as root goes: Alpine's stock root crontab runs
     * /etc/periodic/15min (a script there); Debian has no such directory, but cron reads
     * /etc/cron.d (a crontab line with its user).
     */
    quarterHourJob: { dir: string; format: "run-parts" | "cron.d" };
    /**
     * Installs the SSH client and ssh-keygen when missing: a fleet's peers fetch the certificates
     * from the lead with them. Not in `packages`: only peers need them, and a host reached over SSH
     * usually has them already.
     */
    sshClientInstallCommand: string;
}

// Paths the packages install alike on both families (test/alpine/ holds Alpine's against its packaging).
export const webhookBinary = "/usr/bin/webhook";
/** The HTTP-01 webroot hook shipped with the uacme package. */
export const acmeHook = "/usr/share/uacme/uacme.sh";
/** Local CA certificates (*.crt) added to the system store by update-ca-certificates. */
export const localCaDir = "/usr/local/share/ca-certificates";

/** The store's bundle, which update-ca-certificates writes and libcurl reads (Alpine and Debian alike). */
export const systemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

// The service account's shell: no logins.
const alpineNologin = "/sbin/nologin";
const debianNologin = "/usr/sbin/nologin";
// uacme is the ACME client; openssl makes the placeholder certificate nginx starts with (see components/tls.ts).
// curl: the deploy reporter's HTTP client (deployments in GitHub), a package on both families.
// Alpine: nginx's init script is in nginx-openrc, crond's in busybox-openrc and getent in musl-utils;
// the last two come only with alpine-base, which an image may be built without.
// brotli (the CLI the sync precompresses with) and nginx's brotli_static module, on both families.
const alpinePackages = ["nginx", "nginx-openrc", "git", "webhook", "openrc", "busybox", "busybox-openrc", "musl-utils", "ca-certificates", "uacme", "openssl", "curl", "brotli", "nginx-mod-http-brotli"];
const debianPackages = ["nginx", "git", "webhook", "openrc", "cron", "util-linux", "ca-certificates", "gzip", "uacme", "openssl", "curl", "brotli", "libnginx-mod-http-brotli-static"];

/**
 * webhook and uacme live in the community repository, which a fresh setup-alpine may leave
 * commented out. Like `setup-apkrepos -o`, each enabled `.../main` line gets its `.../community`
 * twin (uncommented if the file has it, else appended), so only the release the host already uses is
 * added: never the `#.../edge/community` line alpine-conf 3.10-3.15 wrote beside it. An enabled
 * community line means the administrator chose already: the file is left alone.
 */
const communityTwins = String.raw`
{ line[NR] = $0 }
/^[^#@[:space:]].*\/main\/?$/ { c = $1; sub(/\/$/, "", c); sub(/\/main$/, "/community", c); want[c] = 1; order[++n] = c }
END {
    for (i = 1; i <= NR; i++) {
        l = line[i]; u = l
        if (sub(/^#[[:space:]]*/, "", u)) { sub(/\/$/, "", u); if ((u in want) && !(u in done)) { l = u; done[u] = 1 } }
        print l
    }
    for (i = 1; i <= n; i++) if (!(order[i] in done)) { print order[i]; done[order[i]] = 1 }
}`;
export const enableCommunityRepository = [
    "f=/etc/apk/repositories",
    "if ! grep -Eq '^[^#@[:space:]].*/community/?$' \"$f\"; then",
    `  awk ${shellQuote(communityTwins)} "$f" > "$f.selfpages" && cat "$f.selfpages" > "$f"; rm -f "$f.selfpages"`,
    "fi",
].join("\n");

const alpine: Platform = {
    family: "alpine",
    // The packaging test/alpine/ checks, and the first release whose nginx (1.26) takes `http2 on;`.
    oldestRelease: "3.20",
    packages: alpinePackages,
    packagesPresentCommand: `apk info -e ${alpinePackages.join(" ")} >/dev/null`,
    packagesInstallCommand: `${enableCommunityRepository}\napk update && apk add --no-cache ${alpinePackages.join(" ")}`,
    nginxSiteConfPath: "/etc/nginx/http.d/selfpages.conf",
    nginxDefaultSitePath: "/etc/nginx/http.d/default.conf",
    nginxHttp2: "directive",
    cronService: "crond",
    createServiceAccountCommand: (user) =>
        `getent group ${user} >/dev/null || addgroup -S ${user}\nid -u ${user} >/dev/null 2>&1 || adduser -S -D -H -h /var/lib/${user} -s ${alpineNologin} -G ${user} ${user}`,
    removeServiceAccountCommand: (user) => `if id -u ${user} >/dev/null 2>&1; then deluser ${user}; fi\nif getent group ${user} >/dev/null; then delgroup ${user} 2>/dev/null || true; fi`,
    dailyJobDir: "/etc/periodic/daily",
    quarterHourJob: { dir: "/etc/periodic/15min", format: "run-parts" },
    // Both in main; openssh-client-default holds ssh (openssh-client is only what it provides).
    sshClientInstallCommand: "apk add --no-cache openssh-client-default openssh-keygen",
};

const debian: Platform = {
    family: "debian",
    packages: debianPackages,
    packagesPresentCommand: `dpkg-query -W -f='\${Status}\\n' ${debianPackages.join(" ")} 2>/dev/null | grep -c '^install ok installed$' | grep -qx ${debianPackages.length}`,
    packagesInstallCommand: `export DEBIAN_FRONTEND=noninteractive\napt-get update && apt-get install -y --no-install-recommends ${debianPackages.join(" ")}`,
    nginxSiteConfPath: "/etc/nginx/conf.d/selfpages.conf",
    nginxDefaultSitePath: "/etc/nginx/sites-enabled/default",
    // bookworm's nginx is 1.22.
    nginxHttp2: "listen-parameter",
    cronService: "cron",
    createServiceAccountCommand: (user) =>
        `id -u ${user} >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /var/lib/${user} --shell ${debianNologin} ${user}`,
    removeServiceAccountCommand: (user) => `if id -u ${user} >/dev/null 2>&1; then userdel ${user}; fi\nif getent group ${user} >/dev/null; then groupdel ${user} 2>/dev/null || true; fi`,
    dailyJobDir: "/etc/cron.daily",
    quarterHourJob: { dir: "/etc/cron.d", format: "cron.d" },
    sshClientInstallCommand: "export DEBIAN_FRONTEND=noninteractive\napt-get update && apt-get install -y --no-install-recommends openssh-client",
};

export const platforms: Record<Platform["family"], Platform> = { alpine, debian };
