// The T5 tokenizer read from a Hugging Face tokenizer/ folder (spiece.model) against what transformers'
// slow T5Tokenizer produced in ../shared/if-golden (README 3.3): every prompt, raw and IF-preprocessed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SentencePieceError, SentencePieceModel } from '../../../../src/engine/denoisers/deepfloyd/spiece.js';
import { T5Tokenizer, ifPreprocess, pythonStrip } from '../../../../src/engine/denoisers/deepfloyd/t5-tokenizer.js';
import { MissingModelError } from '../../../../src/engine/runtime/onnx.js';
import { makeTempDir } from '../../../helpers/temp-dir.js';

/** ../shared/if-golden beside the clone (from dist/test/engine/denoisers/deepfloyd/). */
function golden(): string {
  const dir = fileURLToPath(new URL('../../../../../../shared/if-golden', import.meta.url));
  if (!existsSync(join(dir, 'golden', 'tokens.json')))
    assert.fail(`the DeepFloyd IF goldens are missing: expected ${dir} (../shared/if-golden from the repository root)`);
  return dir;
}

interface GoldenSide {
  text: string;
  input_ids: number[];
  attention_mask: number[];
  untruncated_length: number;
  truncated: boolean;
  pieces: string[];
}
interface GoldenPrompt {
  key: string;
  prompt: string;
  preprocessed_text: string;
  raw: GoldenSide;
  preprocessed: GoldenSide;
}

const tokenizerDir = (): string => join(golden(), 'models', 'IF-I-tiny', 'tokenizer');
const prompts = (): GoldenPrompt[] =>
  (JSON.parse(readFileSync(join(golden(), 'golden', 'tokens.json'), 'utf8')) as { prompts: GoldenPrompt[] }).prompts;

test('every golden prompt, raw and preprocessed, gives transformers’ ids, mask, pieces and lengths', () => {
  const tok = T5Tokenizer.load(tokenizerDir());
  const all = prompts();
  assert.equal(all.length, 16);
  for (const p of all) {
    assert.equal(ifPreprocess(p.prompt), p.preprocessed_text, `${p.key}: preprocessing`);
    for (const side of ['raw', 'preprocessed'] as const) {
      const g = p[side];
      const e = tok.encode(g.text);
      const where = `${p.key} (${side})`;
      assert.deepEqual(e.inputIds, g.input_ids, `${where}: input_ids`);
      assert.deepEqual(e.attentionMask, g.attention_mask, `${where}: attention_mask`);
      assert.deepEqual(
        e.inputIds.slice(0, g.pieces.length).map((id) => tok.idToPiece(id)),
        g.pieces,
        `${where}: pieces`,
      );
      assert.equal(e.untruncatedLength, g.untruncated_length, `${where}: untruncated length`);
      assert.equal(e.truncated, g.truncated, `${where}: truncated`);
    }
  }
  const long = all.find((p) => p.key === 'long')!;
  assert.ok(
    long.preprocessed.truncated && long.preprocessed.untruncated_length > 77,
    'the goldens include a truncated prompt',
  );
});

test('the batch form lays the rows out [B, 77] with int64 ids and mask', () => {
  const tok = T5Tokenizer.load(tokenizerDir());
  const all = prompts();
  const { ids, attentionMask } = tok.encodeBatch(all.map((p) => p.preprocessed_text));
  assert.equal(ids.length, all.length * 77);
  all.forEach((p, b) => {
    assert.deepEqual([...ids.slice(b * 77, (b + 1) * 77)].map(Number), p.preprocessed.input_ids, p.key);
    assert.deepEqual([...attentionMask.slice(b * 77, (b + 1) * 77)].map(Number), p.preprocessed.attention_mask, p.key);
  });
});

test('extra ids count down from the top of the vocabulary and are split out of text; a final </s> is not doubled', () => {
  const tok = T5Tokenizer.load(tokenizerDir());
  assert.equal(tok.vocabSize, 300);
  assert.equal(tok.tokenToId('<extra_id_0>'), 299);
  assert.equal(tok.tokenToId('<extra_id_99>'), 200);
  assert.equal(tok.idToPiece(200), '<extra_id_99>');
  assert.equal(tok.tokenToId('<extra_id_100>'), tok.unkId, 'only extra_ids of them exist');
  const plain = tok.tokenize('a burger').ids;
  const marked = tok.tokenize('a<extra_id_10>burger');
  assert.deepEqual(marked.ids, [...tok.tokenize('a').ids, 289, ...tok.tokenize('burger').ids]);
  assert.equal(marked.pieces[tok.tokenize('a').ids.length], '<extra_id_10>', 'the longest special token wins');
  assert.deepEqual(tok.encode('a burger</s>').inputIds.slice(0, plain.length + 2), [...plain, 1, 0]);
});

test("IF's preprocessing strips what Python's str.strip strips, not what String.trim does", () => {
  assert.equal(pythonStrip('\x1c\x85 a b \u3000'), 'a b');
  assert.equal(pythonStrip('\ufeffa'), '\ufeffa', 'U+FEFF is not whitespace to Python');
  assert.equal(ifPreprocess('  A Squirrel ÉTÉ\n'), 'a squirrel été');
});

test('sentencepiece normalisation: the charsmap folds full-width letters, whitespace runs collapse, empty text has no pieces', () => {
  const sp = SentencePieceModel.fromFile(join(tokenizerDir(), 'spiece.model'));
  assert.equal(sp.normalize('ｐａｉｎｔｉｎｇ'), '\u2581painting');
  assert.equal(sp.normalize('  a \t\n  dog  '), '\u2581a\u2581dog');
  assert.deepEqual(sp.encode(' \u3000 ').ids, []);
  assert.deepEqual(sp.encode('ｐａｉｎｔｉｎｇ').ids, sp.encode('painting').ids);
});

test('a missing spiece.model names the file and the download; a corrupt one says what it is not', (t) => {
  const dir = makeTempDir(t, 'illusionist-t5tok-');
  assert.throws(
    () => T5Tokenizer.load(join(dir, 'tokenizer')),
    (e: unknown) =>
      e instanceof MissingModelError &&
      e.message.includes(join(dir, 'tokenizer', 'spiece.model')) &&
      e.message.includes('huggingface-cli download DeepFloyd/IF-I-XL-v1.0'),
  );
  mkdirSync(join(dir, 'bad'));
  writeFileSync(join(dir, 'bad', 'spiece.model'), 'this is not a protobuf \xff\xff\xff');
  assert.throws(
    () => T5Tokenizer.load(join(dir, 'bad')),
    (e: unknown) => e instanceof SentencePieceError && /not a sentencepiece model/.test(e.message),
  );
  mkdirSync(join(dir, 'cfg'));
  copyFileSync(join(tokenizerDir(), 'spiece.model'), join(dir, 'cfg', 'spiece.model'));
  writeFileSync(join(dir, 'cfg', 'tokenizer_config.json'), '{"extra_ids": -3}');
  assert.throws(() => T5Tokenizer.load(join(dir, 'cfg')), /extra_ids must be a whole number ≥ 0, not -3/);
});
