/**
 * A step of the build (program.js, after tsc): writes every template precompiled to
 * precompiledTemplates.js beside lib/templates, which renderTemplate reads instead of compiling.
 *   node dist/lib/precompileTemplates.js
 */
import * as fs from "node:fs";
import { precompiledTemplatesFile, precompiledTemplatesModule } from "./templates";

if (require.main === module) {
    try {
        fs.writeFileSync(precompiledTemplatesFile, precompiledTemplatesModule());
    } catch (error) {
        console.error(`precompileTemplates: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
    }
}
