// A SentencePiece unigram model read from its own `spiece.model` (a sentencepiece ModelProto), encoding text
// the way the sentencepiece library does: the precompiled normalisation charsmap (a darts-clone trie of UTF-8
// rules), whitespace clean-up and the ▁ prefix, Viterbi over the pieces in float32 with sentencepiece's
// unknown-piece penalty, and runs of unknown characters merged into one <unk>.
//
// Written here rather than through @huggingface/tokenizers: its Precompiled normaliser ignores the charsmap
// (it approximates it with String.normalize('NFKC')), its Unigram takes the minimum score over every piece
// (control pieces included) in float64 and matches control pieces such as "</s>" inside text, and the fast
// tokenizer's Metaspace keeps whitespace that sentencepiece removes. Each of those changes ids.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs/light.js';

/** sentencepiece_model.proto, only the fields encoding reads (field numbers as upstream). */
const PROTO = protobuf.Root.fromJSON({
  nested: {
    ModelProto: {
      fields: {
        pieces: { rule: 'repeated', type: 'SentencePiece', id: 1 },
        trainerSpec: { type: 'TrainerSpec', id: 2 },
        normalizerSpec: { type: 'NormalizerSpec', id: 3 },
      },
    },
    SentencePiece: {
      fields: {
        piece: { type: 'string', id: 1 },
        score: { type: 'float', id: 2 },
        type: { type: 'int32', id: 3, options: { default: 1 } },
      },
    },
    TrainerSpec: {
      fields: {
        modelType: { type: 'int32', id: 3, options: { default: 1 } },
        vocabSize: { type: 'int32', id: 4 },
        treatWhitespaceAsSuffix: { type: 'bool', id: 24 },
        byteFallback: { type: 'bool', id: 35 },
        unkId: { type: 'int32', id: 40 },
        bosId: { type: 'int32', id: 41, options: { default: 1 } },
        eosId: { type: 'int32', id: 42, options: { default: 2 } },
        padId: { type: 'int32', id: 43, options: { default: -1 } },
      },
    },
    NormalizerSpec: {
      fields: {
        name: { type: 'string', id: 1 },
        precompiledCharsmap: { type: 'bytes', id: 2 },
        addDummyPrefix: { type: 'bool', id: 3, options: { default: true } },
        removeExtraWhitespaces: { type: 'bool', id: 4, options: { default: true } },
        escapeWhitespaces: { type: 'bool', id: 5, options: { default: true } },
      },
    },
  },
});
const ModelProto = PROTO.lookupType('ModelProto');

export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface Piece {
  piece: string;
  score: number;
  type: number;
}

const SPACE = '\u2581';
/** sentencepiece's kUnkPenalty: an unknown character costs this much below the lowest piece score. */
const UNK_PENALTY = 10;

interface Decoded {
  pieces?: Array<{ piece?: string; score?: number; type?: number }>;
  trainerSpec?: {
    modelType?: number;
    treatWhitespaceAsSuffix?: boolean;
    byteFallback?: boolean;
    unkId?: number;
    bosId?: number;
    eosId?: number;
    padId?: number;
  };
  normalizerSpec?: {
    name?: string;
    precompiledCharsmap?: Uint8Array;
    addDummyPrefix?: boolean;
    removeExtraWhitespaces?: boolean;
    escapeWhitespaces?: boolean;
  };
}

export class SentencePieceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SentencePieceError';
  }
}

/** A darts-clone double array: the format of sentencepiece's precompiled charsmap (and its piece tries). */
class DoubleArray {
  constructor(private readonly units: Uint32Array) {}

  /** Every key that is a prefix of bytes[start..], as [length, value] (shortest first). */
  commonPrefixes(bytes: Uint8Array, start: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const units = this.units;
    if (units.length === 0) return out;
    let unit = units[0]!;
    let id = offsetOf(unit);
    for (let i = start; i < bytes.length; i++) {
      const c = bytes[i]!;
      id ^= c;
      if (id >= units.length) return out;
      unit = units[id]!;
      if (labelOf(unit) !== c) return out;
      id ^= offsetOf(unit);
      if ((unit >>> 8) & 1) out.push([i - start + 1, (units[id] ?? 0) & 0x7fffffff]);
    }
    return out;
  }
}

function offsetOf(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}

function labelOf(unit: number): number {
  return unit & 0x800000ff; // negative when the high bit is set, so it never equals a byte
}

/** Bytes of one UTF-8 character starting at bytes[i], or 0 for a malformed sequence. */
function utf8CharLength(bytes: Uint8Array, i: number): number {
  const b = bytes[i]!;
  const need = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
  if (need === 0 || i + need > bytes.length) return 0;
  for (let k = 1; k < need; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return 0;
  return need;
}

interface TrieNode {
  next: Map<string, TrieNode>;
  id: number;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class SentencePieceModel {
  readonly pieces: readonly Piece[];
  readonly unkId: number;
  readonly eosId: number;
  readonly padId: number;
  private readonly ids = new Map<string, number>();
  private readonly charsmap: { trie: DoubleArray; normalized: Uint8Array } | null;
  private readonly addDummyPrefix: boolean;
  private readonly removeExtraWhitespaces: boolean;
  private readonly escapeWhitespaces: boolean;
  /** Pieces the Viterbi may use (normal, user-defined; unused ones are skipped), as a character trie. */
  private readonly trie: TrieNode = { next: new Map(), id: -1 };
  private readonly minScore: number;
  private readonly maxScore: number;
  private readonly userDefined: Uint8Array[];

  constructor(
    bytes: Uint8Array,
    readonly source = 'spiece.model',
  ) {
    let m: Decoded;
    try {
      m = ModelProto.toObject(ModelProto.decode(bytes), { defaults: true }) as Decoded;
    } catch (err) {
      throw new SentencePieceError(`${source}: not a sentencepiece model (${(err as Error).message})`);
    }
    const trainer = m.trainerSpec ?? {};
    if ((trainer.modelType ?? 1) !== 1)
      throw new SentencePieceError(
        `${source}: model type ${trainer.modelType} is not unigram (1); T5's spiece.model is unigram`,
      );
    if (trainer.byteFallback)
      throw new SentencePieceError(`${source}: byte_fallback models are not supported (T5's is not one)`);
    if (trainer.treatWhitespaceAsSuffix)
      throw new SentencePieceError(`${source}: treat_whitespace_as_suffix is not supported (T5 uses a ▁ prefix)`);
    this.pieces = (m.pieces ?? []).map((p) => ({
      piece: p.piece ?? '',
      score: Math.fround(p.score ?? 0),
      type: p.type ?? PieceType.NORMAL,
    }));
    if (this.pieces.length === 0) throw new SentencePieceError(`${source}: has no pieces`);
    this.pieces.forEach((p, i) => {
      if (!this.ids.has(p.piece)) this.ids.set(p.piece, i);
    });
    this.unkId = this.pieces.findIndex((p) => p.type === PieceType.UNKNOWN);
    if (this.unkId < 0) throw new SentencePieceError(`${source}: has no unknown piece`);
    this.eosId = trainer.eosId ?? 2;
    this.padId = trainer.padId ?? -1;

    const norm = m.normalizerSpec ?? {};
    this.addDummyPrefix = norm.addDummyPrefix ?? true;
    this.removeExtraWhitespaces = norm.removeExtraWhitespaces ?? true;
    this.escapeWhitespaces = norm.escapeWhitespaces ?? true;
    const blob = norm.precompiledCharsmap;
    if (blob && blob.length > 0) {
      if (blob.length < 4) throw new SentencePieceError(`${source}: precompiled charsmap is ${blob.length} bytes`);
      const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
      const trieSize = view.getUint32(0, true);
      if (trieSize % 4 !== 0 || 4 + trieSize > blob.length)
        throw new SentencePieceError(
          `${source}: precompiled charsmap trie of ${trieSize} bytes does not fit its ${blob.length} bytes`,
        );
      const units = new Uint32Array(trieSize / 4);
      for (let i = 0; i < units.length; i++) units[i] = view.getUint32(4 + 4 * i, true);
      this.charsmap = { trie: new DoubleArray(units), normalized: blob.slice(4 + trieSize) };
    } else {
      if (norm.name && norm.name !== 'identity')
        throw new SentencePieceError(`${source}: normaliser "${norm.name}" has no precompiled charsmap`);
      this.charsmap = null;
    }

    let min = Infinity;
    let max = -Infinity;
    this.userDefined = [];
    this.pieces.forEach((p, i) => {
      if (p.type === PieceType.NORMAL) {
        min = Math.min(min, p.score);
        max = Math.max(max, p.score);
      }
      if (p.type === PieceType.USER_DEFINED && p.piece.length > 0) this.userDefined.push(utf8.encode(p.piece));
      if ((p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED) && p.piece.length > 0) {
        let node = this.trie;
        for (const c of p.piece) {
          let child = node.next.get(c);
          if (!child) {
            child = { next: new Map(), id: -1 };
            node.next.set(c, child);
          }
          node = child;
        }
        if (node.id === -1) node.id = i;
      }
    });
    this.minScore = min;
    this.maxScore = max;
  }

  static fromFile(path: string): SentencePieceModel {
    return new SentencePieceModel(readFileSync(path), path);
  }

  get size(): number {
    return this.pieces.length;
  }

  /** The id of a piece, or the unknown id. */
  pieceToId(piece: string): number {
    return this.ids.get(piece) ?? this.unkId;
  }

  /** One normalisation rule at bytes[i..]: [replacement bytes, bytes consumed]. */
  private normalizePrefix(bytes: Uint8Array, i: number): [Uint8Array, number] {
    // User-defined pieces pass through untouched (sentencepiece's prefix matcher): the longest that matches.
    let user: Uint8Array | undefined;
    for (const ub of this.userDefined) {
      if (ub.length > (user?.length ?? 0) && ub.every((b, k) => bytes[i + k] === b)) user = ub;
    }
    if (user) return [user, user.length];
    let longest = 0;
    let value = 0;
    if (this.charsmap) {
      for (const [len, v] of this.charsmap.trie.commonPrefixes(bytes, i)) {
        if (len > longest) {
          longest = len;
          value = v;
        }
      }
    }
    if (longest === 0) {
      const n = utf8CharLength(bytes, i);
      // A malformed byte becomes U+FFFD and only that byte is consumed, as sentencepiece does.
      return n === 0 ? [new Uint8Array([0xef, 0xbf, 0xbd]), 1] : [bytes.subarray(i, i + n), n];
    }
    const blob = this.charsmap!.normalized;
    let end = value;
    while (end < blob.length && blob[end] !== 0) end++;
    return [blob.subarray(value, end), longest];
  }

  /** sentencepiece's Normalizer::Normalize: charsmap, whitespace clean-up, ▁ for spaces, the ▁ prefix. */
  normalize(text: string): string {
    const bytes = utf8.encode(text);
    let i = 0;
    if (this.removeExtraWhitespaces) {
      while (i < bytes.length) {
        const [rep, used] = this.normalizePrefix(bytes, i);
        if (!(rep.length === 1 && rep[0] === 0x20)) break;
        i += used;
      }
    }
    if (i >= bytes.length) return '';
    const out: number[] = [];
    const space = this.escapeWhitespaces ? [...utf8.encode(SPACE)] : [0x20];
    if (this.addDummyPrefix) out.push(...space);
    let prevSpace = this.removeExtraWhitespaces;
    while (i < bytes.length) {
      const [rep, used] = this.normalizePrefix(bytes, i);
      let k = 0;
      if (prevSpace) while (k < rep.length && rep[k] === 0x20) k++;
      if (k < rep.length) {
        for (; k < rep.length; k++) {
          if (rep[k] === 0x20 && this.escapeWhitespaces) out.push(...space);
          else out.push(rep[k]!);
        }
        prevSpace = rep[rep.length - 1] === 0x20;
      }
      i += used;
      if (!this.removeExtraWhitespaces) prevSpace = false;
    }
    if (this.removeExtraWhitespaces) {
      while (out.length >= space.length && space.every((b, k) => out[out.length - space.length + k] === b))
        out.length -= space.length;
    }
    return fromUtf8.decode(Uint8Array.from(out));
  }

  /** Pieces and ids of a text, as sentencepiece's Encode (unknown runs merged). */
  encode(text: string): { pieces: string[]; ids: number[] } {
    const normalized = this.normalize(text);
    if (normalized === '') return { pieces: [], ids: [] };
    const chars = Array.from(normalized);
    const n = chars.length;
    // Best path ending at each character boundary; scores are float32 as in sentencepiece.
    const score = new Float64Array(n + 1);
    const from = new Int32Array(n + 1).fill(-1);
    const idAt = new Int32Array(n + 1).fill(-1);
    const unkScore = Math.fround(this.minScore - UNK_PENALTY);
    const offer = (end: number, start: number, id: number, s: number): void => {
      const cand = Math.fround(s + score[start]!);
      if (from[end] === -1 || cand > score[end]!) {
        score[end] = cand;
        from[end] = start;
        idAt[end] = id;
      }
    };
    for (let start = 0; start < n; start++) {
      // Candidates in the order sentencepiece's trie finds them: by increasing length.
      const cands: Array<[number, number]> = [];
      let node: TrieNode | undefined = this.trie;
      for (let k = start; k < n; k++) {
        node = node.next.get(chars[k]!);
        if (!node) break;
        if (node.id >= 0) cands.push([k - start + 1, node.id]);
      }
      let single = false;
      for (const [len, id] of cands) {
        const p = this.pieces[id]!;
        const s =
          p.type === PieceType.USER_DEFINED ? Math.fround(utf8.encode(p.piece).length * this.maxScore - 0.1) : p.score;
        offer(start + len, start, id, s);
        if (len === 1) single = true;
      }
      if (!single) offer(start + 1, start, this.unkId, unkScore);
    }
    const pieces: string[] = [];
    const ids: number[] = [];
    for (let end = n; end > 0; end = from[end]!) {
      const start = from[end]!;
      pieces.push(chars.slice(start, end).join(''));
      ids.push(idAt[end]!);
    }
    pieces.reverse();
    ids.reverse();
    const mp: string[] = [];
    const mi: number[] = [];
    for (let k = 0; k < ids.length; k++) {
      if (ids[k] === this.unkId && mi.length > 0 && mi[mi.length - 1] === this.unkId) mp[mp.length - 1] += pieces[k]!;
      else {
        mp.push(pieces[k]!);
        mi.push(ids[k]!);
      }
    }
    // A merged run is looked up again by its text, as callers that map pieces to ids do.
    return { pieces: mp, ids: mi.map((id, k) => (id === this.unkId ? this.pieceToId(mp[k]!) : id)) };
  }
}
