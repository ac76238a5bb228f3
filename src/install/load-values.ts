/**
 * Values from where an operator gives them: `--values FILE` (repeatable, later files win),
 * then `--set key=value` (repeatable, in order). Errors name the file or the --set argument.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { named, ValueError } from '../util/value-error.js';
import { applyHa, applyValuesDocument, defaultValues, parseSetArgument, setValue, type InstallValues } from './values.js';

export interface ValueSources {
  valuesFiles?: readonly string[];
  sets?: readonly string[];
  /** Flags that map onto keys (e.g. --ha → ha), applied last; an undefined value is not given. */
  overrides?: readonly { flag: string; key: string; value: string | undefined }[];
}

export function loadValues(version: string, src: ValueSources): InstallValues {
  const values = defaultValues(version);
  const explicit = new Set<string>();
  for (const file of src.valuesFiles ?? []) {
    const text = readFileSync(file, 'utf8');
    named({ flag: `--values ${file}` }, () => {
      let doc: unknown;
      try {
        doc = parse(text);
      } catch (e) {
        throw new ValueError(`not YAML: ${(e as Error).message.split('\n')[0]}`);
      }
      applyValuesDocument(values, doc);
      collectKeys(doc, '', explicit);
    });
  }
  for (const arg of src.sets ?? []) {
    named({ flag: `--set ${arg}` }, () => {
      const { key, value } = parseSetArgument(arg);
      setValue(values, key, value);
      explicit.add(key);
    });
  }
  for (const { flag, key, value } of src.overrides ?? []) {
    if (value === undefined) continue;
    named({ flag }, () => setValue(values, key, value));
    explicit.add(key);
  }
  applyHa(values, explicit);
  return values;
}

function collectKeys(doc: unknown, prefix: string, into: Set<string>): void {
  if (!doc || typeof doc !== 'object') return;
  for (const [k, v] of Object.entries(doc)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) collectKeys(v, `${prefix}${k}.`, into);
    else into.add(`${prefix}${k}`);
  }
}
