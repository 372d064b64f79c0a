// T5 tokenisation for DeepFloyd IF: tokenizer.json through @huggingface/tokenizers, then padded or truncated
// to 77 ids keeping the final </s> (Python's tokenizer keeps it; transformers.js' truncation drops it).
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';

export const TEXT_LENGTH = 77;

export interface TokenizedPrompts {
  /** [B, 77] token ids, row-major. */
  ids: BigInt64Array;
  /** [B, 77] 1 for real tokens, 0 for padding. */
  attentionMask: BigInt64Array;
}

export class T5Prompts {
  private readonly eos: number;
  private readonly pad: number;

  constructor(private readonly tokenizer: Tokenizer, readonly length = TEXT_LENGTH) {
    this.eos = tokenizer.token_to_id('</s>') ?? 1;
    this.pad = tokenizer.token_to_id('<pad>') ?? 0;
  }

  static fromFile(path: string, length = TEXT_LENGTH): T5Prompts {
    const json = JSON.parse(readFileSync(path, 'utf8')) as object;
    return new T5Prompts(new Tokenizer(json, {}), length);
  }

  /** Ids of one prompt, exactly `length` long, ending in </s> when truncated. */
  ids(prompt: string): number[] {
    let ids = this.tokenizer.encode(prompt).ids;
    if (ids[ids.length - 1] !== this.eos) ids = [...ids, this.eos];
    if (ids.length > this.length) ids = [...ids.slice(0, this.length - 1), this.eos];
    return ids;
  }

  tokenize(prompts: readonly string[]): TokenizedPrompts {
    const L = this.length;
    const ids = new BigInt64Array(prompts.length * L).fill(BigInt(this.pad));
    const attentionMask = new BigInt64Array(prompts.length * L);
    prompts.forEach((p, b) => {
      this.ids(p).forEach((id, i) => {
        ids[b * L + i] = BigInt(id);
        attentionMask[b * L + i] = 1n;
      });
    });
    return { ids, attentionMask };
  }
}
