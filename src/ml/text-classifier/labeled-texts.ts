/**
 * Labelled texts on disk: JSON lines `{"text": "…", "label": "pos"}`, one example per line —
 * the interchange format between the prepare, train and evaluate stages (any tool can write it).
 */
import fs from 'node:fs';
import { writeFileAtomicSync } from '../../core/atomic-fs.js';
import { fsError, LedgeError } from '../../core/errors.js';

export interface LabeledText {
  text: string;
  label: string;
}

export function readLabeledTexts(file: string, shownAs = file): LabeledText[] {
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw fsError(error, shownAs, 'cannot read the data');
  }
  const examples: LabeledText[] = [];
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new LedgeError('config', `${shownAs}:${i + 1}: not a JSON object`, {
        hint: 'each line holds one example: {"text": "...", "label": "pos"}',
      });
    }
    const record = value as Partial<LabeledText> | null;
    if (!record || typeof record.text !== 'string' || typeof record.label !== 'string') {
      throw new LedgeError('config', `${shownAs}:${i + 1}: an example needs a "text" and a "label" string`, {
        hint: 'each line holds one example: {"text": "...", "label": "pos"}',
      });
    }
    examples.push({ text: record.text, label: record.label });
  }
  return examples;
}

export function writeLabeledTexts(file: string, examples: LabeledText[]): void {
  writeFileAtomicSync(
    file,
    examples.map((e) => `${JSON.stringify({ text: e.text, label: e.label })}\n`).join(''),
  );
}
