/**
 * Text → tokens, the one tokenizer shared by training, batch prediction and serving (and by the
 * Keras-style integer encoding). Lowercases, drops HTML line breaks and tags (IMDB reviews hold
 * `<br />`), keeps words with inner apostrophes (`don't`) and the `!` and `?` marks, which carry
 * sentiment; everything else separates tokens.
 */

const TAG = /<[^>]{0,64}>/g;
const TOKEN = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*|[!?]/gu;

export function tokenize(text: string): string[] {
  const cleaned = text.replace(TAG, ' ').toLowerCase();
  const tokens = cleaned.match(TOKEN);
  if (!tokens) return [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.includes('’')) tokens[i] = t.replace(/’/g, "'");
  }
  return tokens;
}
