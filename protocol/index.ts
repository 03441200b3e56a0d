/**
 * protocol/: the contract between the appliance agent and the control plane. Pure: zod and
 * node:crypto (tweetnacl for the portable fallback), no I/O. Both sides import only this file.
 */
export {
  APPLIANCE_API,
  type ApplianceRoute,
  MAX_APPLIANCE_BODY_BYTES,
} from "./api.ts";
export { backoffDelay, jitteredInterval } from "./backoff.ts";
export {
  canonicalBytes,
  canonicalize,
  findLoneSurrogate,
  findProtoKey,
  type JsonValue,
} from "./canonical-json.ts";
export {
  bundleLeafHash,
  type CheckpointContext,
  type CheckpointFields,
  type CheckpointRejectionReason,
  type CheckpointVerdict,
  checkpointDelivery,
  signCheckpoint,
  type VerifiedCheckpoint,
  verifyCheckpoint,
  verifyCheckpointDelivery,
} from "./checkpoint.ts";
export {
  COSIGNATURE_HEADER,
  type CosignatureVerdict,
  type CosignedCheckpoint,
  checkpointNoteBody,
  checkpointOrigin,
  cosignCheckpoint,
  cosignerKeyId,
  verifyCosignature,
  witnessName,
} from "./cosignature.ts";
export {
  type DecisionChainVerdict,
  type DecisionDraft,
  sealDecision,
  verifyDecisionChain,
} from "./decision-chain.ts";

export {
  generateEd25519KeyPair,
  keyId,
  privateKeyFromPem,
  privateKeyFromSeed,
  privateKeyToPem,
  publicKeyFromBase64,
  publicKeyFromPem,
  publicKeyFromRaw,
  publicKeyOf,
  publicKeyToBase64,
  publicKeyToPem,
  rawPublicKey,
  signBytes,
  verifyBytes,
} from "./ed25519.ts";
export {
  hasCanonicalScalar,
  type PortableKeyPair,
  portableKeyPair,
  portableSign,
  portableVerify,
} from "./ed25519-portable.ts";
export { isSmallOrderEncoding, SMALL_ORDER_ENCODINGS } from "./ed25519-small-order.ts";
export {
  constantTimeEqual,
  fromBase64,
  fromHex,
  randomNonce,
  sha256,
  sha256Hex,
  toBase64,
  toHex,
} from "./encoding.ts";
export {
  CodedError,
  isCodedError,
  ProtocolError,
  type ProtocolErrorCode,
} from "./errors.ts";
export {
  type BundleDraft,
  bundleHash,
  type ChainBreak,
  type ChainBreakReason,
  type ChainVerdict,
  GENESIS_HEAD,
  type SealedBundle,
  sealBundle,
  type VerifyChainOptions,
  verifyChain,
} from "./evidence-chain.ts";
export {
  type L1RuleSetContext,
  type L1RuleSetVerdict,
  verifyL1RuleSet,
} from "./l1-rule-verification.ts";
export {
  EMPTY_ROOT,
  HASH_LENGTH,
  leafHash,
  leafHashInto,
  MerkleTree,
  nodeHash,
  RootBuilder,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";

export {
  type OrderContext,
  type OrderVerdict,
  type PollRejectionReason,
  type PollVerdict,
  verifyOrder,
  verifyPollResponse,
} from "./order-verification.ts";
export { parseMessage, tryParseMessage, unfitInput } from "./parse.ts";
export {
  type CheckResultBundle,
  type CheckStateLine,
  CheckStatesAsOf,
  mergeCheckStates,
} from "./point-in-time.ts";
export * from "./schemas/index.ts";
export {
  createSigner,
  type Signer,
  signDocument,
  signingBytes,
  type VerificationKey,
  verificationKey,
  verifyDocument,
} from "./signed-document.ts";
