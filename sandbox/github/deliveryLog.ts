/**
 * The stand-in's delivery log: every attempt, in the order made, and the API's views of it
 * (the description's hook-delivery-item and hook-delivery), with GitHub's cursor paging.
 */
import type { DeliveryRecord } from "./deliveries";

export class DeliveryLog {
    private readonly records: DeliveryRecord[] = [];
    // Delivery ids are int64 at GitHub, well past 2^32.
    private nextDeliveryId = 30_000_000_001;

    nextId(): number {
        return this.nextDeliveryId++;
    }

    add(record: DeliveryRecord): DeliveryRecord {
        this.records.push(record);
        return record;
    }

    all(repository?: string): DeliveryRecord[] {
        return this.records.filter((r) => repository === undefined || r.repository.toLowerCase() === repository.toLowerCase());
    }

    find(hookId: number, id: number): DeliveryRecord | undefined {
        return this.records.find((r) => r.hook_id === hookId && r.id === id);
    }

    /**
     * One page of a hook's deliveries, newest first. `cursor` is the opaque value of a previous
     * page's Link rel="next"; `status` keeps 200-399 (success) or 400-599 (failure).
     */
    page(hookId: number, opts: { perPage: number; cursor?: string; status?: "success" | "failure" }): { items: DeliveryRecord[]; nextCursor?: string } {
        const inRange = (code: number) => (opts.status === "success" ? code >= 200 && code <= 399 : opts.status === "failure" ? code >= 400 && code <= 599 : true);
        const before = opts.cursor ? Number(/^v1_(\d+)$/.exec(opts.cursor)?.[1] ?? Number.MAX_SAFE_INTEGER) : Number.MAX_SAFE_INTEGER;
        const matching = this.records.filter((r) => r.hook_id === hookId && r.id < before && inRange(r.status_code)).reverse();
        const items = matching.slice(0, opts.perPage);
        return { items, nextCursor: matching.length > items.length ? `v1_${items[items.length - 1].id}` : undefined };
    }
}

/** hook-delivery-item: the record without request and response. */
export const deliverySummary = (d: DeliveryRecord) => ({
    id: d.id,
    guid: d.guid,
    delivered_at: d.delivered_at,
    redelivery: d.redelivery,
    duration: d.duration,
    status: d.status,
    status_code: d.status_code,
    event: d.event,
    action: d.action,
    installation_id: d.installation_id,
    repository_id: d.repository_id,
    throttled_at: null,
});

/** hook-delivery: the record with the request sent and the answer received. */
export const deliveryDetail = (d: DeliveryRecord) => ({
    ...deliverySummary(d),
    url: d.url,
    request: { headers: { ...d.request.headers }, payload: d.request.payload },
    response: { headers: { ...d.response.headers }, payload: d.response.payload },
});
