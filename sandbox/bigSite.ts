import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * A generated static site of the size the design brief plans for (seed 000's site: hundreds of
 * MB, tens of thousands of files once built): incompressible images of realistic sizes, and the
 * HTML, CSS and JS the sync precompresses. Sizes and names come from a seeded generator, so two
 * runs measure the same site; image bytes are random (only their size and incompressibility
 * matter).
 */
export interface BigSiteOptions {
    /** Files in total (about 40 % images, 60 % text). */
    files: number;
    /** Aimed total size in bytes; the result lands within a few percent. */
    bytes: number;
    seed?: number;
}

export interface BigSiteFigures {
    files: number;
    bytes: number;
    imageFiles: number;
    imageBytes: number;
    textFiles: number;
    textBytes: number;
    directories: number;
    /** Paths of a few text files, for later one-file changes. */
    samplePages: string[];
}

/** mulberry32: small, seeded, good enough for sizes and names. */
function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const words = (
    "the a of to and in is for on with as by at from site page post project report team student year course build static " +
    "server image photo gallery event club school week talk release note update guide index search tag archive author " +
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt labore dolore magna aliqua"
).split(" ");

/** Text that compresses like real markup (gzip -9 ratio about 3-5), of about `bytes` bytes. */
function markup(random: () => number, kind: "html" | "css" | "js" | "json" | "svg", bytes: number, title: string): string {
    const word = () => words[Math.floor(random() * words.length)];
    const sentence = (n: number) => Array.from({ length: n }, word).join(" ");
    const parts: string[] = [];
    let size = 0;
    const add = (s: string) => {
        parts.push(s);
        size += s.length;
    };
    switch (kind) {
        case "html":
            add(`<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>${title}</title><link rel="stylesheet" href="/assets/css/main.css"></head><body><main>\n`);
            while (size < bytes) add(`<section class="s-${Math.floor(random() * 40)}"><h2>${sentence(4)}</h2><p>${sentence(30 + Math.floor(random() * 40))}</p><a href="/posts/${word()}-${Math.floor(random() * 9999)}.html">${sentence(3)}</a></section>\n`);
            add("</main></body></html>\n");
            break;
        case "css":
            while (size < bytes) add(`.${word()}-${Math.floor(random() * 999)} { margin: ${Math.floor(random() * 40)}px; padding: 0 ${Math.floor(random() * 20)}px; color: #${Math.floor(random() * 0xffffff).toString(16).padStart(6, "0")}; }\n`);
            break;
        case "js":
            while (size < bytes) add(`export function ${word()}${Math.floor(random() * 9999)}(el) { el.dataset.${word()} = "${sentence(3)}"; return el.querySelectorAll(".${word()}-${Math.floor(random() * 999)}"); }\n`);
            break;
        case "json":
            add("[\n");
            while (size < bytes) add(`{"title": "${sentence(5)}", "url": "/posts/${word()}-${Math.floor(random() * 9999)}.html", "tags": ["${word()}", "${word()}"]},\n`);
            add("{}]\n");
            break;
        case "svg":
            add('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">\n');
            while (size < bytes) add(`<path d="M${Math.floor(random() * 100)} ${Math.floor(random() * 100)} L${Math.floor(random() * 100)} ${Math.floor(random() * 100)} Z" fill="#${Math.floor(random() * 0xfff).toString(16)}"/>\n`);
            add("</svg>\n");
            break;
    }
    return parts.join("");
}

/** Log-normal size around `median`, clamped. */
function logNormal(random: () => number, median: number, sigma: number, min: number, max: number): number {
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return Math.round(Math.min(max, Math.max(min, median * Math.exp(sigma * z))));
}

/**
 * Writes the site into `dir` (which may hold other files: they are left alone). Layout of a
 * blog-like generator with dated permalinks: pages under posts/<year>/<month>/, images under
 * assets/img/<year>/<month>/, CSS and JS bundles under assets/.
 */
export function writeBigSite(dir: string, options: BigSiteOptions): BigSiteFigures {
    const random = prng(options.seed ?? 20261128);
    const imageFiles = Math.round(options.files * 0.4);
    const textFiles = options.files - imageFiles;
    // Text takes about a fifth of the bytes: the rest is media.
    const textBudget = options.bytes * 0.2;
    const imageBudget = options.bytes - textBudget;
    const dirs = new Set<string>();
    const write = (rel: string, content: string | Buffer) => {
        const full = path.join(dir, rel);
        const parent = path.dirname(full);
        if (!dirs.has(parent)) {
            fs.mkdirSync(parent, { recursive: true });
            dirs.add(parent);
        }
        fs.writeFileSync(full, content);
        return content.length;
    };
    const month = (i: number) => `${2015 + (i % 12)}/${String(1 + (Math.floor(i / 12) % 12)).padStart(2, "0")}`;

    const figures: BigSiteFigures = { files: 0, bytes: 0, imageFiles: 0, imageBytes: 0, textFiles: 0, textBytes: 0, directories: 0, samplePages: [] };

    // Image sizes: log-normal around 24 KB (thumbnails to photos), scaled to the budget.
    const imageSizes = Array.from({ length: imageFiles }, () => logNormal(random, 24_000, 0.9, 800, 4_000_000));
    const imageScale = imageBudget / imageSizes.reduce((a, b) => a + b, 0);
    const imageExts = ["jpg", "jpg", "jpg", "png", "png", "webp", "webp", "avif", "gif"];
    for (let i = 0; i < imageFiles; i++) {
        const ext = imageExts[Math.floor(random() * imageExts.length)];
        const size = Math.max(200, Math.round(imageSizes[i] * imageScale));
        figures.imageBytes += write(`assets/img/${month(i)}/photo-${i}.${ext}`, crypto.randomBytes(size));
        figures.imageFiles++;
    }

    // Text: mostly pages, then JS and CSS chunks, a few feeds and icons.
    const kinds: Array<["html" | "css" | "js" | "json" | "svg", number, number]> = [
        ["html", 0.75, 6_000],
        ["js", 0.12, 9_000],
        ["css", 0.08, 5_000],
        ["json", 0.03, 6_000],
        ["svg", 0.02, 2_000],
    ];
    const weights = kinds.map(([, share, median]) => share * median);
    // A log-normal's mean is its median times exp(sigma^2 / 2).
    const textScale = textBudget / (textFiles * weights.reduce((a, b) => a + b, 0) * Math.exp(0.6 ** 2 / 2));
    let t = 0;
    for (const [kind, share, median] of kinds) {
        const count = kind === "html" ? textFiles - kinds.slice(1).reduce((n, [, s]) => n + Math.round(textFiles * s), 0) : Math.round(textFiles * share);
        for (let i = 0; i < count; i++, t++) {
            const size = logNormal(random, median * textScale, 0.6, 300, 400_000);
            const rel =
                kind === "html" ? `posts/${month(i)}/post-${i}.html`
                : kind === "svg" ? `assets/icons/icon-${i}.svg`
                : kind === "json" ? `feeds/${i % 10}/feed-${i}.json`
                : `assets/${kind}/${i % 20}/chunk-${i}.${crypto.createHash("sha1").update(`${kind}${i}`).digest("hex").slice(0, 8)}.${kind}`;
            figures.textBytes += write(rel, markup(random, kind, size, `Post ${i}`));
            figures.textFiles++;
            if (kind === "html" && figures.samplePages.length < 5) figures.samplePages.push(rel);
        }
    }
    figures.files = figures.imageFiles + figures.textFiles;
    figures.bytes = figures.imageBytes + figures.textBytes;
    figures.directories = dirs.size;
    return figures;
}
