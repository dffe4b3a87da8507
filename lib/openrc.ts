/**
 * The OpenRC steps the components share, written once (Alpine and Debian run the same OpenRC).
 * Each is a shell fragment for a host command.
 */

/** Enabled at boot, and started unless it runs already: safe to repeat, never interrupts it. */
export const enableAndStart = (service: string): string => `rc-update add ${service} default >/dev/null\nrc-service ${service} status >/dev/null 2>&1 || rc-service ${service} start`;

/**
 * Enabled at boot, and made to read its configuration again: reloaded (`reloadCommand`) when it
 * runs, started when it does not. Never interrupts a running service.
 */
export const enableAndReloadOrStart = (service: string, reloadCommand: string): string =>
    `rc-update add ${service} default >/dev/null\nif rc-service ${service} status >/dev/null 2>&1; then\n${reloadCommand}\nelse\nrc-service ${service} start\nfi`;

/** Stopped and removed from boot; already gone is fine, so destroy converges. */
export const stopAndDisable = (service: string): string => `rc-service ${service} stop || true\nrc-update del ${service} default >/dev/null 2>&1 || true`;

/** Re-reads the service's configuration without dropping connections; `check` (`nginx -t -q`) must pass first. */
export const reload = (service: string, check?: string): string => `${check ? `${check} && ` : ""}rc-service ${service} reload`;

/**
 * nginx's reload returns once the master has the signal, before it has read the new configuration
 * and replaced its workers: a request right after (GitHub's ping to a hook created once the
 * reload step is done) could still reach a worker with the old configuration or certificate. This
 * waits, 5 s at most, until none of the workers that were accepting connections before the reload
 * still is (an old worker that finishes its requests is titled "worker process is shutting down"
 * and no longer accepts).
 *
 * Workers are found with two greps over /proc/<pid>/cmdline (busybox and GNU alike), not a
 * process per pid. Globbing is switched back on inside: acme-renew and cert-pull run this with
 * `set -f`, under which /proc/[0-9]* would not expand and nothing would be waited for. grep's
 * status is not used: a process that ends while it reads makes it 2 although others matched.
 */
const nginxWorkersAccepting = (files: string): string =>
    `$(set +f; w=$(grep -l '^nginx: worker process' ${files} 2>/dev/null || :); [ -z "$w" ] || grep -L 'shutting down' $w 2>/dev/null || :)`;

const reloadedNginx = (reloadCommand: string): string =>
    [
        `old=${nginxWorkersAccepting("/proc/[0-9]*/cmdline")}`,
        // A failed reload (its check refused the configuration) fails at once: nothing to wait for.
        `if ${reloadCommand}; then`,
        `n=0; while [ -n "$old" ] && [ $n -lt 50 ]; do old=${nginxWorkersAccepting("$old")}; [ -z "$old" ] && break; n=$((n + 1)); sleep 0.1; done`,
        "else false; fi",
    ].join("\n");

/** nginx's reload (reload, `check` first), returning once the new configuration serves. */
export const reloadNginx = (check?: string): string => reloadedNginx(reload("nginx", check));

/** nginx's reload if it runs (a stopped one reads the new configuration when it starts), returning once the new configuration serves. */
export const reloadNginxIfRunning = (check?: string): string => `if rc-service nginx status >/dev/null 2>&1; then\n${reloadNginx(check)}\nfi`;
