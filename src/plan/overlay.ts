import { isMap, isScalar, isSeq, parseDocument, type Pair, type Scalar, type YAMLMap } from 'yaml';

/** One `images:` entry of a kustomization. */
export interface OverlayImage {
  name: string;
  newName?: string;
  newTag?: string;
}

export interface ImageUpdate {
  name: string;
  newName: string;
  newTag: string;
}

/** The overlay cannot be read or edited; retrying will not help, a person must fix the file. */
export class OverlayError extends Error {
  override name = 'OverlayError';
}

function imageMaps(text: string): YAMLMap[] {
  const doc = parseDocument(text);
  if (doc.errors.length) {
    // yaml's message spans lines (it quotes the source); one line with the position reads better in a failure.
    const error = doc.errors[0]!;
    const at = error.linePos?.[0];
    const said = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new OverlayError(
      `kustomization is not valid YAML${at ? ` at line ${at.line}, column ${at.col}` : ''}: ${said}`,
    );
  }
  const images = doc.get('images', true);
  if (!isSeq(images)) throw new OverlayError('kustomization has no `images:` list');
  return images.items.filter((item): item is YAMLMap => isMap(item));
}

function scalarField(map: YAMLMap, key: string): Pair<Scalar, unknown> | undefined {
  return map.items.find((pair): pair is Pair<Scalar, unknown> => isScalar(pair.key) && pair.key.value === key);
}

function stringField(map: YAMLMap, key: string): string | undefined {
  const value = scalarField(map, key)?.value;
  return isScalar(value) && value.value !== null ? String(value.value) : undefined;
}

export function readOverlayImages(text: string): OverlayImage[] {
  return imageMaps(text).flatMap((map) => {
    const name = stringField(map, 'name');
    return name === undefined
      ? []
      : [{ name, newName: stringField(map, 'newName'), newTag: stringField(map, 'newTag') }];
  });
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** Renders a value in the scalar's existing style, so quoting is kept. */
function render(node: Scalar, value: string): string {
  switch (node.type) {
    case 'QUOTE_DOUBLE':
      return JSON.stringify(value);
    case 'QUOTE_SINGLE':
      return `'${value.replace(/'/g, "''")}'`;
    case 'PLAIN':
    case undefined:
      return value;
    default:
      throw new OverlayError(`cannot rewrite a ${node.type} scalar; use a plain value for image fields`);
  }
}

function editsFor(text: string, map: YAMLMap, update: ImageUpdate): Edit[] {
  const edits: Edit[] = [];
  const missing: string[] = [];
  for (const field of ['newName', 'newTag'] as const) {
    const pair = scalarField(map, field);
    const node = pair?.value;
    if (!pair) {
      missing.push(`${field}: ${update[field]}`);
    } else if (isScalar(node) && node.range && node.value !== null) {
      if (String(node.value) !== update[field])
        edits.push({ start: node.range[0], end: node.range[1], text: render(node, update[field]) });
    } else {
      throw new OverlayError(`${field} of image "${update.name}" is empty or not a plain value; set it to a string`);
    }
  }
  if (missing.length) {
    // Insert absent keys on their own lines right after `name:`, at the same indentation.
    const namePair = scalarField(map, 'name')!;
    if (map.flow || !namePair.key.range || !isScalar(namePair.value) || !namePair.value.range) {
      throw new OverlayError(
        `image "${update.name}" is a flow mapping without ${missing.join(', ')}; write it as a block mapping`,
      );
    }
    const keyStart = namePair.key.range[0];
    const indent = ' '.repeat(keyStart - (text.lastIndexOf('\n', keyStart - 1) + 1));
    const eol = text.indexOf('\n', namePair.value.range[1]);
    const at = eol === -1 ? text.length : eol;
    const newline = text[at - 1] === '\r' ? '\r\n' : '\n';
    const position = newline === '\r\n' ? at - 1 : at;
    edits.push({ start: position, end: position, text: missing.map((line) => `${newline}${indent}${line}`).join('') });
  }
  return edits;
}

/**
 * Sets newName/newTag of the given images, changing only those values' bytes: comments,
 * spacing, key order and quoting stay as they were. `changed` is false when all already match.
 */
export function setOverlayImages(text: string, updates: ImageUpdate[]): { text: string; changed: boolean } {
  const maps = imageMaps(text);
  const edits = updates.flatMap((update) => {
    const map = maps.find((m) => stringField(m, 'name') === update.name);
    if (!map)
      throw new OverlayError(
        `kustomization has no images entry named "${update.name}"; add one with name, newName and newTag`,
      );
    return editsFor(text, map, update);
  });
  if (!edits.length) return { text, changed: false };
  let result = text;
  for (const edit of edits.sort((a, b) => b.start - a.start)) {
    result = result.slice(0, edit.start) + edit.text + result.slice(edit.end);
  }
  // The edit works on byte ranges; re-read it to be sure the file now says what we meant.
  const written = readOverlayImages(result);
  for (const update of updates) {
    const image = written.find((i) => i.name === update.name);
    if (image?.newName !== update.newName || image?.newTag !== update.newTag) {
      throw new OverlayError(`editing image "${update.name}" did not produce the expected kustomization`);
    }
  }
  return { text: result, changed: true };
}
