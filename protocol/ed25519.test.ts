import { createHash, randomBytes } from "node:crypto";
import fc from "fast-check";
import nacl from "tweetnacl";
import { describe, expect, it } from "vitest";
import {
  keyId,
  privateKeyFromPem,
  privateKeyFromSeed,
  privateKeyToPem,
  publicKeyFromBase64,
  publicKeyFromPem,
  publicKeyOf,
  publicKeyToBase64,
  publicKeyToPem,
  rawPublicKey,
  signBytes,
  verifyBytes,
} from "./ed25519.ts";
import {
  hasCanonicalScalar,
  portableKeyPair,
  portableSign,
  portableVerify,
} from "./ed25519-portable.ts";
import { fromHex, sha256Hex, toHex } from "./encoding.ts";
import { ProtocolError } from "./errors.ts";

// RFC 8032 §7.1, test vectors for Ed25519 (SECRET KEY, PUBLIC KEY, MESSAGE, SIGNATURE).
const RFC8032_VECTORS = [
  {
    name: "TEST 1",
    seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    pub: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    msg: "",
    sig: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    name: "TEST 2",
    seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    pub: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    msg: "72",
    sig: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    name: "TEST 3",
    seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    pub: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    msg: "af82",
    sig: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
  {
    name: "TEST 1024",
    seed: "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
    pub: "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
    msg: [
      "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98",
      "fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8",
      "79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d",
      "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc",
      "1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe",
      "ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e",
      "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef",
      "efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7",
      "aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1",
      "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2",
      "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24",
      "554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270",
      "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc",
      "2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07",
      "07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba",
      "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a",
      "ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e",
      "c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7",
      "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c",
      "42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8",
      "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df",
      "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08",
      "d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649",
      "de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4",
      "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3",
      "2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e",
      "6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f",
      "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5",
      "0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1",
      "369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d",
      "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c",
      "0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0",
    ].join(""),
    sig: "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
  },
  {
    name: "TEST SHA(abc)",
    seed: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
    pub: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    msg: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    sig: "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
  },
];

// L, the order of the base point (RFC 8032 §5.1), as a number for building S + L.
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

/** Returns the signature with S replaced by S + L: same group equation, not canonical. */
function malleate(signature: Uint8Array): Uint8Array {
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i] as number);
  let t = s + L;
  const out = Uint8Array.from(signature);
  for (let i = 0; i < 32; i++) {
    out[32 + i] = Number(t & 0xffn);
    t >>= 8n;
  }
  return out;
}

describe("RFC 8032 §7.1 test vectors", () => {
  it("covers the published message lengths 0, 1, 2, 1023 and 64", () => {
    expect(RFC8032_VECTORS.map((v) => v.msg.length / 2)).toEqual([0, 1, 2, 1023, 64]);
    // TEST SHA(abc) signs SHA-512("abc"): check the transcription of the message itself.
    expect(createHash("sha512").update("abc").digest("hex")).toBe(RFC8032_VECTORS[4]?.msg);
  });

  describe.each(RFC8032_VECTORS)("$name", (v) => {
    const seed = fromHex(v.seed, "seed");
    const msg = fromHex(v.msg, "message");
    const expectedSig = fromHex(v.sig, "signature");

    it("node:crypto derives the public key and signs the exact published bytes", () => {
      const privateKey = privateKeyFromSeed(seed);
      expect(toHex(rawPublicKey(publicKeyOf(privateKey)))).toBe(v.pub);
      expect(toHex(signBytes(privateKey, msg))).toBe(v.sig);
    });

    it("node:crypto verifies it and rejects a one-bit change of message or signature", () => {
      const publicKey = publicKeyOf(privateKeyFromSeed(seed));
      expect(verifyBytes(publicKey, msg, expectedSig)).toBe(true);
      const flipped = Uint8Array.from(expectedSig);
      flipped[10] = (flipped[10] as number) ^ 1;
      expect(verifyBytes(publicKey, msg, flipped)).toBe(false);
      const other = Uint8Array.from([...msg, 0]);
      expect(verifyBytes(publicKey, other, expectedSig)).toBe(false);
    });

    it("tweetnacl (portable) derives, signs and verifies the same bytes", () => {
      const keyPair = portableKeyPair(seed);
      expect(toHex(keyPair.publicKey)).toBe(v.pub);
      expect(toHex(portableSign(keyPair, msg))).toBe(v.sig);
      expect(portableVerify(fromHex(v.pub, "pub"), msg, expectedSig)).toBe(true);
    });
  });
});

describe("the two implementations agree", () => {
  it("yield byte-identical signatures for random keys and messages (Ed25519 is deterministic)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 2048 }),
        (seed, message) => {
          const native = signBytes(privateKeyFromSeed(seed), message);
          const keyPair = portableKeyPair(seed);
          expect(toHex(portableSign(keyPair, message))).toBe(toHex(native));
          expect(portableVerify(keyPair.publicKey, message, native)).toBe(true);
        },
      ),
      // tweetnacl signs a few hundred per second: enough runs to cover lengths, not a benchmark.
      { numRuns: 40 },
    );
  });
});

describe("signature malleability (S + L)", () => {
  const seed = new Uint8Array(randomBytes(32));
  const privateKey = privateKeyFromSeed(seed);
  const publicKey = publicKeyOf(privateKey);
  const message = new TextEncoder().encode("restart chronyd");
  const signature = signBytes(privateKey, message);
  const twin = malleate(signature);

  it("builds a genuinely different signature that raw tweetnacl accepts", () => {
    expect(toHex(twin)).not.toBe(toHex(signature));
    // The reason tweetnacl is never used bare: it accepts the non-canonical twin.
    expect(nacl.sign.detached.verify(message, twin, rawPublicKey(publicKey))).toBe(true);
  });

  it("is rejected by node:crypto", () => {
    expect(verifyBytes(publicKey, message, signature)).toBe(true);
    expect(verifyBytes(publicKey, message, twin)).toBe(false);
  });

  it("is rejected by the portable verifier's canonical-S check", () => {
    expect(hasCanonicalScalar(signature)).toBe(true);
    expect(hasCanonicalScalar(twin)).toBe(false);
    expect(portableVerify(rawPublicKey(publicKey), message, twin)).toBe(false);
  });

  it("treats S == L and S all-ones as non-canonical", () => {
    const atL = Uint8Array.from(signature);
    atL.set(malleate(new Uint8Array(64)).subarray(32), 32);
    expect(hasCanonicalScalar(atL)).toBe(false);
    const ones = Uint8Array.from(signature).fill(0xff, 32);
    expect(hasCanonicalScalar(ones)).toBe(false);
  });
});

describe("key formats", () => {
  const privateKey = privateKeyFromSeed(fromHex(RFC8032_VECTORS[0]?.seed ?? "", "seed"));
  const publicKey = publicKeyOf(privateKey);

  it("round-trips public keys through raw base64 and SPKI PEM", () => {
    const b64 = publicKeyToBase64(publicKey);
    expect(b64).toBe(Buffer.from(RFC8032_VECTORS[0]?.pub ?? "", "hex").toString("base64"));
    expect(publicKeyFromBase64(b64).equals(publicKey)).toBe(true);
    const pem = publicKeyToPem(publicKey);
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(publicKeyFromPem(pem).equals(publicKey)).toBe(true);
  });

  it("round-trips private keys through PKCS #8 PEM", () => {
    const pem = privateKeyToPem(privateKey);
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(privateKeyFromPem(pem).equals(privateKey)).toBe(true);
  });

  it("derives the key id as hex SHA-256 of the raw public key", () => {
    expect(keyId(publicKey)).toBe(sha256Hex(fromHex(RFC8032_VECTORS[0]?.pub ?? "", "pub")));
  });

  it.each([
    ["a short raw key", () => publicKeyFromBase64(Buffer.alloc(31).toString("base64")), /32 bytes/],
    ["URL-safe base64", () => publicKeyFromBase64(`${"_".repeat(43)}=`), /standard padded base64/],
    [
      "garbage PEM",
      () => publicKeyFromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
      /could not be read/,
    ],
    ["a short seed", () => privateKeyFromSeed(new Uint8Array(16)), /32 bytes, got 16/],
  ])("refuses %s", (_name, load, message) => {
    expect(load).toThrow(ProtocolError);
    expect(load).toThrow(message);
  });

  it("refuses a PEM key of another algorithm", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const { publicKey: ec } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pem = ec.export({ format: "pem", type: "spki" }).toString();
    expect(() => publicKeyFromPem(pem)).toThrow(/holds a ec key, expected ed25519/);
  });

  it("never throws on a malformed signature, it just does not verify", () => {
    expect(verifyBytes(publicKey, new Uint8Array(1), new Uint8Array(63))).toBe(false);
    expect(verifyBytes(publicKey, new Uint8Array(1), new Uint8Array(64))).toBe(false);
  });
});
