import * as fs from 'fs';
import * as path from 'path';
import { Tokenizer } from '@huggingface/tokenizers';
import { OnnxLowerError } from '../ir/errors';

export class TokenizerError extends OnnxLowerError {}

/** A Hugging Face tokenizer.json (+ tokenizer_config.json) through @huggingface/tokenizers. */
export class TextTokenizer {
  private constructor(private readonly tok: Tokenizer, readonly folder: string) {}

  static load(folder: string): TextTokenizer {
    const file = path.join(folder, 'tokenizer.json');
    if (!fs.existsSync(file)) throw new TokenizerError('TOKENIZER_MISSING', `no tokenizer.json in '${folder}' (give --tokenizer DIR or --input_ids)`, folder);
    const cfgFile = path.join(folder, 'tokenizer_config.json');
    try {
      const json = JSON.parse(fs.readFileSync(file, 'utf8')) as object;
      const cfg = fs.existsSync(cfgFile) ? (JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as object) : {};
      return new TextTokenizer(new Tokenizer(json, cfg), folder);
    } catch (e) {
      throw new TokenizerError('TOKENIZER_INVALID', `cannot load the tokenizer in '${folder}': ${(e as Error).message}`, folder);
    }
  }

  encode(text: string): number[] {
    return this.tok.encode(text).ids;
  }

  decode(ids: readonly number[]): string {
    return this.tok.decode([...ids], { skip_special_tokens: true });
  }
}
