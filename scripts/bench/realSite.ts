/**
 * A real site: Python 3.11's HTML documentation (Debian's python3.11-doc, a Sphinx site of about
 * 1 000 files with its CSS, JS and search index), published to gh-pages in the sandbox. Its first
 * deploy on an empty site root, one-page changes (time and disk), and the bytes each encoding puts
 * on the wire for its real assets.
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Sandbox as SandboxEnvironment } from "../../sandbox/build";
import { hostExec } from "../../sandbox/hostInstance";
import { nextPhases, percentile, phasesLines, round1, sleep, syncConf, waitServed, type Phases } from "./common";

export const pythonDocsDir = "/usr/share/doc/python3.11/html";

const kib = (env: SandboxEnvironment, paths: string[]) =>
    hostExec(env.host.name, `du -sk ${paths.map((p) => `'${p}'`).join(" ")}`)
        .trim()
        .split("\n")
        .map((line) => Number(line.split("\t")[0]));

/** Bytes of the body as sent for Accept-Encoding `encoding`, and the Content-Encoding nginx chose. */
function onTheWire(url: string, encoding: string): { bytes: number; contentEncoding: string; vary: string } {
    const out = execFileSync("curl", ["-s", "-o", "/dev/null", "-D", "-", "-w", "%{size_download}", "-H", `Accept-Encoding: ${encoding}`, url], { encoding: "utf8" });
    const header = (name: string) => new RegExp(`^${name}: *(.*?)\\r?$`, "im").exec(out)?.[1] ?? "";
    return { bytes: Number(out.trim().split("\n").at(-1)), contentEncoding: header("content-encoding") || "identity", vary: header("vary") };
}

/** The spans of one deploy that the encodings cost, from its phases line. */
const compression = (p: Phases) => ({ gzipMs: Math.round(p.gz - p.checkedout), brotliMs: Math.round(p.br - p.gz), checkoutMs: Math.round(p.checkedout - p.planned), fetchMs: Math.round(p.fetched - p.fetch) });

export async function pythonDocs(env: SandboxEnvironment, changes: number) {
    if (!fs.existsSync(path.join(pythonDocsDir, "index.html"))) throw new Error(`${pythonDocsDir} is missing: install python3.11-doc (bash scripts/ensure-deps.sh)`);
    const { siteRoot, stateDir } = syncConf(env);
    // A first deploy: an empty site root (under the sync's lock, so no sync runs meanwhile).
    hostExec(env.host.name, `flock '${stateDir}/sync.lock' rm -rf '${siteRoot}/current' '${siteRoot}/releases' '${siteRoot}/.spare' '${siteRoot}/repo.git'`);
    const token = crypto.randomBytes(6).toString("hex");
    const { sha, result: site } = env.publisher.publishGenerated((dir) => {
        // Debian links jquery.js and underscore.js to its own packages: the site gets the files.
        fs.cpSync(pythonDocsDir, dir, { recursive: true, dereference: true });
        fs.writeFileSync(path.join(dir, "version.txt"), token);
        const files = execFileSync("find", [dir, "-path", `${dir}/.git`, "-prune", "-o", "-type", "f", "-print"], { encoding: "utf8" }).trim().split("\n");
        return { files: files.length, megabytes: round1(files.reduce((s, f) => s + fs.statSync(f).size, 0) / 1e6) };
    }, "bench: Python 3.11 documentation");
    const seen = phasesLines(env).length;
    const started = Date.now();
    const [delivery] = await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: sha });
    if (delivery.status_code !== 202) throw new Error(`delivery answered ${delivery.status_code}`);
    await waitServed(env, token, 600_000, 50);
    const firstServedMs = Date.now() - started;
    const first = await nextPhases(env, seen, 600_000);
    const current = `${siteRoot}/current/`;
    const [textFiles, gzFiles, brFiles] = hostExec(env.host.name, `cd ${current} && find . -type f \\( -name '*.html' -o -name '*.css' -o -name '*.js' -o -name '*.txt' -o -name '*.json' -o -name '*.xml' -o -name '*.svg' -o -name '*.gz' -o -name '*.br' \\) | awk '/\\.gz$/ { g++; next } /\\.br$/ { b++; next } { t++ } END { print t + 0, g + 0, b + 0 }'`)
        .trim()
        .split(" ")
        .map(Number);
    if (brFiles < textFiles * 0.9) throw new Error(`only ${brFiles} .br files for ${textFiles} text files`);
    const [cloneKiB, releaseKiB] = kib(env, [`${siteRoot}/repo.git`, current]);
    const [siteRootKiB] = kib(env, [siteRoot]);

    // Bytes on the wire per encoding, for its real assets, and for all its HTML, CSS and JS.
    const assets = ["index.html", "library/functions.html", "_static/pydoctheme.css", "_static/basic.css", "_static/doctools.js", "_static/jquery.js", "searchindex.js"];
    const perAsset: Record<string, { identity: number; gzip: number; br: number; brOverGzip: number }> = {};
    for (const asset of assets) {
        const url = `${env.siteUrl}/${asset}`;
        const [identity, gzip, br] = [onTheWire(url, "identity"), onTheWire(url, "gzip"), onTheWire(url, "gzip, deflate, br")];
        if (identity.contentEncoding !== "identity" || gzip.contentEncoding !== "gzip" || br.contentEncoding !== "br") throw new Error(`${asset}: encodings ${identity.contentEncoding}, ${gzip.contentEncoding}, ${br.contentEncoding}`);
        for (const r of [identity, gzip, br]) if (!/accept-encoding/i.test(r.vary)) throw new Error(`${asset}: no Vary: Accept-Encoding`);
        perAsset[asset] = { identity: identity.bytes, gzip: gzip.bytes, br: br.bytes, brOverGzip: Number((br.bytes / gzip.bytes).toFixed(3)) };
    }
    const sums = hostExec(
        env.host.name,
        `cd ${current} && find . -type f \\( -name '*.html' -o -name '*.css' -o -name '*.js' -o -name '*.html.gz' -o -name '*.css.gz' -o -name '*.js.gz' -o -name '*.html.br' -o -name '*.css.br' -o -name '*.js.br' \\) -printf '%s %f\\n'`,
    );
    const allBytes: Record<string, { identity: number; gzip: number; br: number; brOverGzip?: number }> = { html: { identity: 0, gzip: 0, br: 0 }, css: { identity: 0, gzip: 0, br: 0 }, js: { identity: 0, gzip: 0, br: 0 } };
    for (const line of sums.trim().split("\n")) {
        const [size, name] = [Number(line.split(" ")[0]), line.slice(line.indexOf(" ") + 1)];
        const m = /\.(html|css|js)(\.gz|\.br)?$/.exec(name);
        if (!m) continue;
        allBytes[m[1]][m[2] === ".gz" ? "gzip" : m[2] === ".br" ? "br" : "identity"] += size;
    }
    for (const kind of Object.values(allBytes)) kind.brOverGzip = Number((kind.br / kind.gzip).toFixed(3));

    // One-page changes: the page every visitor of the reference reads most, a new paragraph each time.
    const page = "library/functions.html";
    const original = fs.readFileSync(path.join(pythonDocsDir, page), "utf8");
    const changeFigures: Array<{ servedMs: number; releaseOwnKiB: number } & ReturnType<typeof compression>> = [];
    for (let i = 0; i < changes; i++) {
        await sleep(1000);
        const changeToken = crypto.randomBytes(6).toString("hex");
        const changed = original.replace("</body>", `<p>${changeToken}</p></body>`);
        const before = phasesLines(env).length;
        const changeSha = env.publisher.publish({ [page]: changed, "version.txt": changeToken }, `bench: one page ${i}`);
        const t0 = Date.now();
        await env.standin.sendPush(env.repository, { ref: "refs/heads/gh-pages", after: changeSha });
        await waitServed(env, changeToken, 60_000, 10);
        const servedMs = Date.now() - t0;
        const phases = await nextPhases(env, before, 60_000);
        // du counts a file once, where first met: the newest release's line is what it alone holds.
        const names = hostExec(env.host.name, `ls ${siteRoot}/releases`).trim().split("\n").sort();
        const own = kib(env, [`${siteRoot}/repo.git`, ...names.map((n) => `${siteRoot}/releases/${n}`)]).at(-1)!;
        changeFigures.push({ servedMs, releaseOwnKiB: own, ...compression(phases) });
    }
    const served = changeFigures.map((c) => c.servedMs);
    return {
        source: `Debian python3.11-doc, ${pythonDocsDir}`,
        site,
        firstDeploy: {
            deliveryToServedSeconds: round1(firstServedMs / 1000),
            ...compression(first),
            textFiles,
            gzFiles,
            brFiles,
            siteRootMiB: round1(siteRootKiB / 1024),
            cloneMiB: round1(cloneKiB / 1024),
            releaseMiB: round1(releaseKiB / 1024),
        },
        oneFileChange: { page, changes, deliveryToServedMs: { p50: percentile(served, 50), max: Math.max(...served) }, each: changeFigures },
        bytesPerEncoding: { assets: perAsset, wholeSite: allBytes },
    };
}
