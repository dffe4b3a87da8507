import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { utils } from "ssh2";
import { afterAll, describe, expect, it } from "vitest";
import { commandConnection, compactPrivateKey } from "../../lib/ssh";
import { testPrivateKey } from "./fixtures";

// Keys as users have them: made by OpenSSH's ssh-keygen, in its own format.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "selfpages-keys-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let keys = 0;
function keygen(type: string, passphrase = ""): { privateKey: string; publicKey: string } {
    const file = path.join(dir, `${type}-${++keys}`);
    execFileSync("ssh-keygen", ["-q", "-t", type, "-N", passphrase, "-C", "test", "-f", file]);
    return { privateKey: fs.readFileSync(file, "utf8"), publicKey: fs.readFileSync(`${file}.pub`, "utf8") };
}

/** A public key line of OpenSSH's, as SubjectPublicKeyInfo (DER) for comparing. */
function spkiOfOpenSsh(publicKeyLine: string): Buffer {
    const parsed = utils.parseKey(publicKeyLine);
    if (parsed instanceof Error) throw parsed;
    return crypto.createPublicKey(parsed.getPublicPEM()).export({ type: "spki", format: "der" });
}

describe("compactPrivateKey", () => {
    it.each([
        ["ed25519", "-----BEGIN PRIVATE KEY-----", 130],
        ["ecdsa", "-----BEGIN EC PRIVATE KEY-----", 260],
        ["rsa", "-----BEGIN RSA PRIVATE KEY-----", 2600],
    ])("turns an OpenSSH %s key into a shorter PEM of the same key", (type, header, atMost) => {
        const { privateKey, publicKey } = keygen(type);
        const compact = compactPrivateKey(privateKey);
        expect(compact.startsWith(header)).toBe(true);
        expect(compact.length).toBeLessThan(privateKey.length);
        expect(compact.length).toBeLessThanOrEqual(atMost);
        // OpenSSL (through Node) reads it, and its public half is the key's .pub file.
        expect(crypto.createPublicKey(compact).export({ type: "spki", format: "der" }).equals(spkiOfOpenSsh(publicKey))).toBe(true);
        // And it signs for that public half.
        const data = Buffer.from("selfpages");
        const signature = crypto.sign(type === "ed25519" ? null : "sha256", data, crypto.createPrivateKey(compact));
        expect(crypto.verify(type === "ed25519" ? null : "sha256", data, crypto.createPublicKey(compact), signature)).toBe(true);
    });

    it("keeps a key it cannot read as given: one under a passphrase, or not a key at all", () => {
        const { privateKey } = keygen("ed25519", "a passphrase");
        expect(compactPrivateKey(privateKey)).toBe(privateKey);
        expect(compactPrivateKey(testPrivateKey)).toBe(testPrivateKey);
    });

    it("is what every step's connection carries", () => {
        const { privateKey } = keygen("ed25519");
        const connection = commandConnection({ host: "192.0.2.1", port: 22, user: "root", privateKey, hostKey: "ssh-ed25519 AAAA" });
        expect(connection.privateKey).toBe(compactPrivateKey(privateKey));
    });
});
