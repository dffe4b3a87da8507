import * as fs from "node:fs";
import * as path from "node:path";

/**
 * The project's root (the directory of Pulumi.yaml), where templates/ and files/ are: one level
 * above lib/ when run from source (tests, scripts), two above dist/lib/ when compiled.
 */
export function projectRoot(from = __dirname): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
        if (dir === path.dirname(dir)) throw new Error(`no Pulumi.yaml above ${from}`);
    }
}
