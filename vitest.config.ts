import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        // The e2e files share one sandbox host; unit files are quick either way.
        fileParallelism: false,
        projects: [
            {
                test: {
                    name: "unit",
                    include: ["test/**/*.test.ts"],
                    exclude: ["test/e2e/**", "test/sandbox/host/**", "test/sandbox/build.test.ts", "node_modules/**"],
                    testTimeout: 60_000,
                },
            },
            {
                test: {
                    name: "e2e",
                    include: ["test/e2e/**/*.test.ts", "test/sandbox/host/**/*.test.ts", "test/sandbox/build.test.ts"],
                    testTimeout: 900_000,
                    hookTimeout: 1_800_000,
                },
            },
        ],
    },
});
