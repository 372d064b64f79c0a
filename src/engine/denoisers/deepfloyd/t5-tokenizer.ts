// The T5 tokenizer of a Hugging Face `tokenizer/` folder (spiece.model + tokenizer_config.json +
// special_tokens_map.json) as transformers' slow T5Tokenizer runs it for DeepFloyd IF: special tokens are
// split out first, sentencepiece encodes the rest, </s> is appended, and the ids are cut to 77 keeping the
// final </s>, then padded with <pad>. IF's prompt preprocessing (diffusers' _text_preprocessing without
// clean_caption) lower-cases and strips the prompt first.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MissingModelError } from '../../runtime/onnx.js';
import { SentencePieceModel } from './spiece.js';

export const IF_TEXT_LENGTH = 77;

/** What an operator runs to get the folders this module reads. */
export const IF_TEXT_DOWNLOAD_HINT =
  'Download DeepFloyd IF stage I from Hugging Face as it is (accept the licence on the model page and ' +
  '`huggingface-cli login` first):\n' +
  '  huggingface-cli download DeepFloyd/IF-I-XL-v1.0 --include "text_encoder/*" "tokenizer/*" --local-dir models/IF-I-XL-v1.0\n' +
  'Only the fp16 weights (half the size): --include "text_encoder/config.json" "text_encoder/model.fp16*" ' +
  '"text_encoder/model.safetensors.index.fp16.json" "tokenizer/*"';

export function requireFile(path: string, hint = IF_TEXT_DOWNLOAD_HINT): string {
  if (!existsSync(path)) throw new MissingModelError(path, hint);
  return path;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

/** Python's str.isspace set, which str.strip() removes (JS trim() differs on \x1c-\x1f, \x85, \ufeff). */
const PY_SPACE =
  '\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

export function pythonStrip(text: string): string {
  let a = 0;
  let b = text.length;
  while (a < b && PY_SPACE.includes(text[a]!)) a++;
  while (b > a && PY_SPACE.includes(text[b - 1]!)) b--;
  return text.slice(a, b);
}

/**
 * diffusers IFPipeline._text_preprocessing with clean_caption off (also what clean_caption=True does when
 * ftfy is not installed): lower-case, then strip.
 */
export function ifPreprocess(text: string): string {
  return pythonStrip(text.toLowerCase());
}

/** A special token's text in tokenizer_config.json / special_tokens_map.json: a string or an AddedToken dict. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string')
    return (v as { content: string }).content;
  return undefined;
}

export interface Encoded {
  /** Exactly `length` ids. */
  inputIds: number[];
  attentionMask: number[];
  /** Pieces of the unpadded ids. */
  pieces: string[];
  /** Ids before truncation, </s> included (the length transformers' padding="longest" gives). */
  untruncatedLength: number;
  truncated: boolean;
}

export class T5Tokenizer {
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  /** sentencepiece pieces + extra ids. */
  readonly vocabSize: number;
  private readonly special: string[];

  constructor(
    readonly sp: SentencePieceModel,
    readonly extraIds: number,
    readonly length: number,
    tokens: { eos: string; pad: string; unk: string; additional: string[] },
  ) {
    this.vocabSize = sp.size + extraIds;
    this.eosId = this.tokenToId(tokens.eos);
    this.padId = this.tokenToId(tokens.pad);
    this.unkId = this.tokenToId(tokens.unk);
    // Longest first, so <extra_id_10> wins over <extra_id_1> at the same position.
    this.special = [...new Set([tokens.eos, tokens.unk, tokens.pad, ...tokens.additional])].sort(
      (a, b) => b.length - a.length,
    );
  }

  /** Reads `dir` (a Hugging Face `tokenizer/` folder); a missing file names itself and the download. */
  static load(dir: string, opts: { length?: number } = {}): T5Tokenizer {
    const d = resolve(dir);
    const sp = SentencePieceModel.fromFile(requireFile(join(d, 'spiece.model')));
    const configPath = join(d, 'tokenizer_config.json');
    const config = existsSync(configPath) ? readJson(configPath) : {};
    const mapPath = join(d, 'special_tokens_map.json');
    const map = existsSync(mapPath) ? readJson(mapPath) : {};
    const pick = (key: string, fallback: string): string => tokenText(map[key]) ?? tokenText(config[key]) ?? fallback;
    const extra = config.extra_ids ?? 100;
    if (typeof extra !== 'number' || !Number.isInteger(extra) || extra < 0)
      throw new Error(`${configPath}: extra_ids must be a whole number ≥ 0, not ${JSON.stringify(extra)}`);
    const additionalRaw = (map.additional_special_tokens ?? config.additional_special_tokens ?? []) as unknown[];
    const additional = additionalRaw.map(tokenText).filter((t): t is string => t !== undefined);
    // Without a list, T5Tokenizer makes the extra ids themselves special.
    if (additional.length === 0) for (let i = 0; i < extra; i++) additional.push(`<extra_id_${i}>`);
    // IF pads to 77 whatever model_max_length says (diffusers passes max_length=77).
    const length = opts.length ?? IF_TEXT_LENGTH;
    if (!Number.isInteger(length) || length < 1)
      throw new RangeError(`token length must be a whole number ≥ 1, not ${length}`);
    return new T5Tokenizer(sp, extra, length, {
      eos: pick('eos_token', '</s>'),
      pad: pick('pad_token', '<pad>'),
      unk: pick('unk_token', '<unk>'),
      additional,
    });
  }

  /** transformers' T5Tokenizer._convert_token_to_id: <extra_id_N> counts down from the top of the vocabulary. */
  tokenToId(token: string): number {
    const m = /^<extra_id_(\d+)>$/.exec(token);
    if (m) {
      const n = Number(m[1]);
      if (n >= this.extraIds) return this.sp.unkId;
      return this.vocabSize - n - 1;
    }
    return this.sp.pieceToId(token);
  }

  /** The token of an id, as transformers' convert_ids_to_tokens (unknown runs read back as <unk>). */
  idToPiece(id: number): string {
    if (id >= this.sp.size && id < this.vocabSize) return `<extra_id_${this.vocabSize - id - 1}>`;
    const p = this.sp.pieces[id];
    if (!p) throw new RangeError(`token id ${id} is outside the vocabulary of ${this.vocabSize}`);
    return p.piece;
  }

  /** Pieces and ids of a text, no </s> added. */
  tokenize(text: string): { pieces: string[]; ids: number[] } {
    const pieces: string[] = [];
    const ids: number[] = [];
    let chunk = '';
    const flush = (): void => {
      if (chunk) {
        const e = this.sp.encode(chunk);
        pieces.push(...e.pieces);
        ids.push(...e.ids);
      }
      chunk = '';
    };
    for (let i = 0; i < text.length; ) {
      const hit = this.special.find((s) => text.startsWith(s, i));
      if (hit) {
        flush();
        pieces.push(hit);
        ids.push(this.tokenToId(hit));
        i += hit.length;
      } else {
        chunk += text[i];
        i++;
      }
    }
    flush();
    return { pieces, ids };
  }

  /** One text as IF's encode_prompt tokenises it (after preprocessing, which the caller does). */
  encode(text: string): Encoded {
    const { pieces, ids } = this.tokenize(text);
    const withEos = (xs: number[]): number[] =>
      xs.length > 0 && xs[xs.length - 1] === this.eosId ? xs : [...xs, this.eosId];
    const untruncatedLength = withEos(ids).length;
    // transformers reserves room for the one special token it appends, then appends it.
    const truncated = ids.length + 1 > this.length;
    const kept = truncated ? ids.slice(0, this.length - 1) : ids;
    const keptPieces = truncated ? pieces.slice(0, this.length - 1) : pieces;
    const final = withEos(kept);
    if (final.length > kept.length) keptPieces.push(this.sp.pieces[this.eosId]?.piece ?? '</s>');
    const inputIds = [...final, ...new Array<number>(this.length - final.length).fill(this.padId)];
    const attentionMask = inputIds.map((_, i) => (i < final.length ? 1 : 0));
    return { inputIds, attentionMask, pieces: keptPieces, untruncatedLength, truncated };
  }

  /** [B, length] int64 ids and mask, row-major, for the encoder. */
  encodeBatch(texts: readonly string[]): { ids: BigInt64Array; attentionMask: BigInt64Array } {
    const L = this.length;
    const ids = new BigInt64Array(texts.length * L);
    const attentionMask = new BigInt64Array(texts.length * L);
    texts.forEach((t, b) => {
      const e = this.encode(t);
      for (let i = 0; i < L; i++) {
        ids[b * L + i] = BigInt(e.inputIds[i]!);
        attentionMask[b * L + i] = BigInt(e.attentionMask[i]!);
      }
    });
    return { ids, attentionMask };
  }
}
