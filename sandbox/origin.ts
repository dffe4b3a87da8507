import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** A working clone of the sandbox's git origin, to publish commits on the site branch. */
export class SitePublisher {
    readonly dir: string;

    constructor(
        originPath: string,
        private readonly branch = "gh-pages",
    ) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-publisher-"));
        this.git("clone", "-q", "--branch", branch, originPath, this.dir);
        this.git("-C", this.dir, "config", "user.email", "ci@selfpages.invalid");
        this.git("-C", this.dir, "config", "user.name", "selfpages tests");
    }

    private git(...args: string[]): string {
        return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    }

    /** Writes files, commits and pushes to the site branch; returns the new commit. */
    publish(files: Record<string, string>, message = "publish"): string {
        for (const [name, content] of Object.entries(files)) {
            const target = path.join(this.dir, name);
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, content);
        }
        this.git("-C", this.dir, "add", "-A");
        this.git("-C", this.dir, "commit", "-q", "-m", message);
        this.git("-C", this.dir, "push", "-q", "origin", `HEAD:${this.branch}`);
        return this.head();
    }

    /**
     * Replaces the site with what `write` puts in the emptied work tree (a generated site),
     * commits and pushes. Pushed without delta search: across 20 000 incompressible images it
     * took 40 s here and found nothing; the objects still travel zlib-compressed, as GitHub's would.
     */
    publishGenerated<T>(write: (dir: string) => T, message: string): { sha: string; result: T } {
        for (const name of fs.readdirSync(this.dir)) if (name !== ".git") fs.rmSync(path.join(this.dir, name), { recursive: true, force: true });
        const result = write(this.dir);
        this.git("-C", this.dir, "add", "-A");
        this.git("-C", this.dir, "commit", "-q", "-m", message);
        this.git("-C", this.dir, "-c", "pack.window=0", "push", "-q", "origin", `HEAD:${this.branch}`);
        return { sha: this.head(), result };
    }

    /** Pushes a commit to another branch (must not deploy). */
    publishOtherBranch(branch: string, files: Record<string, string>): string {
        for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(this.dir, name), content);
        this.git("-C", this.dir, "commit", "-q", "-a", "-m", `on ${branch}`);
        const sha = this.head();
        this.git("-C", this.dir, "push", "-q", "origin", `HEAD:refs/heads/${branch}`);
        this.git("-C", this.dir, "reset", "-q", "--hard", "HEAD~1");
        return sha;
    }

    head(): string {
        return this.git("-C", this.dir, "rev-parse", "HEAD");
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
