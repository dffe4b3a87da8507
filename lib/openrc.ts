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

/** Reloads the service if it runs (a stopped one reads the new configuration when it starts). */
export const reloadIfRunning = (service: string, check?: string): string => `if rc-service ${service} status >/dev/null 2>&1; then ${reload(service, check)}; fi`;
