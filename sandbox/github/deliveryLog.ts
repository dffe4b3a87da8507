/** The stand-in's delivery log: every attempt, in the order made. */
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
}
