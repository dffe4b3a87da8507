/** The repositories a stand-in knows; GitHub matches owner and name case-insensitively. */
export interface RepositoryRef {
    id: number;
    owner: string;
    name: string;
    /** As configured ("Owner/Name"), which is how GitHub spells it in payloads. */
    fullName: string;
}

export class Repositories {
    private readonly byKey = new Map<string, RepositoryRef>();

    constructor(fullNames: string[]) {
        fullNames.forEach((fullName, i) => {
            const match = /^([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+)$/.exec(fullName);
            if (!match) throw new Error(`repository "${fullName}" is not "owner/name"`);
            if (this.byKey.has(fullName.toLowerCase())) throw new Error(`repository ${fullName} given twice`);
            // Ids shaped like GitHub's (large, stable for a given position in the list).
            this.byKey.set(fullName.toLowerCase(), { id: 700_000_001 + i, owner: match[1], name: match[2], fullName });
        });
    }

    all(): RepositoryRef[] {
        return [...this.byKey.values()];
    }

    find(fullName: string): RepositoryRef | undefined {
        return this.byKey.get(fullName.toLowerCase());
    }

    /** For code outside the HTTP API (tests, the control surface): an unknown name is a mistake. */
    get(fullName: string): RepositoryRef {
        const found = this.find(fullName);
        if (!found) throw new Error(`the GitHub stand-in serves no repository ${fullName} (it serves ${[...this.byKey.values()].map((r) => r.fullName).join(", ")})`);
        return found;
    }
}
