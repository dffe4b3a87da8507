/**
 * The OpenRC steps the components share, written once (Alpine and Debian run the same OpenRC).
 * Each is a shell fragment for a host command.
 */

/** Enabled at boot, and started unless it runs already: safe to repeat, never interrupts it. */
export const enableAndStart = (service: string): string => `rc-update add ${service} default >/dev/null\nrc-service ${service} status >/dev/null 2>&1 || rc-service ${service} start`;

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
 * and no longer accepts). Busybox and procps alike: /proc and tr only.
 */
const nginxWorkersAccepting = `for f in /proc/[0-9]*/cmdline; do c=$(tr '\\0' ' ' 2>/dev/null < "$f") || continue; case "$c" in *"shutting down"*) ;; "nginx: worker process"*) p=\${f#/proc/}; echo "\${p%/cmdline}";; esac; done`;

const reloadedNginx = (reloadCommand: string): string =>
    [
        `old=$(${nginxWorkersAccepting})`,
        reloadCommand,
        'n=0; while [ -n "$old" ] && [ $n -lt 50 ]; do still=; for p in $old; do case "$(tr \'\\0\' \' \' 2>/dev/null < /proc/$p/cmdline)" in ""|*"shutting down"*) ;; *) still=$p;; esac; done; [ -z "$still" ] && break; n=$((n + 1)); sleep 0.1; done',
    ].join("\n");

/** nginx's reload (reload, `check` first), returning once the new configuration serves. */
export const reloadNginx = (check?: string): string => reloadedNginx(reload("nginx", check));

/** nginx's reload if it runs (a stopped one reads the new configuration when it starts), returning once the new configuration serves. */
export const reloadNginxIfRunning = (check?: string): string => `if rc-service nginx status >/dev/null 2>&1; then\n${reloadNginx(check)}\nfi`;
