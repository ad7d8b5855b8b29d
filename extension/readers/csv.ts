/**
 * Reader for data as CSV: one example per row, one column of labels, every other column a feature.
 *
 * - The label column is chosen by name (from the header row) or by 0-based index (negative counts from
 *   the end); by default it is the last column.
 * - A header row is optional: the first row is a header when one of its cells is text (neither a number
 *   nor empty).
 * - The delimiter is a comma, else (when the first row has no comma) a tab or a semicolon. Cells may be
 *   quoted ("…", with "" for a quote) but may not span lines. Blank lines are skipped.
 * - `nan`, `inf` and `-inf` (any case) are read as such, so that the engine's non-finite check reports
 *   them by example.
 *
 * The file is read in chunks, twice: the first pass checks every row and counts them, the second fills
 * arrays of exactly the right size. The text is never held whole, so memory grows only by the arrays:
 * x as float32 [rows, features] (reshaped to the model's input by prepareData), y as [rows], int64 when
 * every label is an integer (so that sparse labels are recognised), else float64. Every problem is an
 * InputError naming the line and column (both 1-based, as editors show them).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { InputError } from '../errors.js';
import { fileSize } from './jsonData.js';
import { allocate } from './alloc.js';
import { DEFAULT_LIMITS, printable, tooBig, type NdArray, type ReadLimits } from './npy.js';

type Fail = (detail: string) => never;

const CHUNK = 1 << 20;
/** A line longer than this (in characters) is refused: the file is probably not CSV. */
const MAX_LINE = 64 * 2 ** 20;

export function readCsvData(path: string, labelColumn: string | number | null = null, limits: ReadLimits = DEFAULT_LIMITS): { x: NdArray; y: NdArray } {
  const fail: Fail = (detail) => {
    throw new InputError(path, detail);
  };
  fileSize(path, '.csv', fail); // one-line errors for a missing file or a folder

  // Pass 1: the layout (delimiter, header, columns, label column), every cell checked, rows counted.
  const first: { layout: Layout | null } = { layout: null };
  let rows = 0;
  forEachLine(path, fail, (line, lineNo) => {
    if (first.layout === null) {
      first.layout = firstRow(line, lineNo, labelColumn, fail);
      if (first.layout.header) return;
    }
    const cells = checkRow(line, lineNo, first.layout, fail);
    for (let c = 0; c < cells.length; c++) parseCell(cells[c], lineNo, c, first.layout, fail);
    rows++;
  });
  const L = first.layout ?? fail('is empty: no rows; expected one example per row, features and a label column');
  if (rows === 0) fail('has a header row but no data rows');

  const features = L.columns - 1;
  const xBytes = rows * features * 4;
  if (xBytes > limits.maxBytes) fail(tooBig(`${rows} rows of ${features} features as float32 need`, xBytes, limits));
  const x = allocate('float32', rows * features, limits.maxBytes, fail, `${rows} rows of ${features} features as float32`);
  const y = allocate('float64', rows, limits.maxBytes, fail, `${rows} labels as float64`);

  // Pass 2: fill the arrays (the checks of pass 1 hold unless the file changed in between).
  let r = 0;
  let atFirst = true;
  forEachLine(path, fail, (line, lineNo) => {
    if (atFirst) {
      atFirst = false;
      if (L.header) return;
    }
    if (r >= rows) fail('changed while it was being read; try again');
    const cells = checkRow(line, lineNo, L, fail);
    let j = r * features;
    for (let c = 0; c < cells.length; c++) {
      const v = parseCell(cells[c], lineNo, c, L, fail);
      if (c === L.label) y[r] = v;
      else x[j++] = v;
    }
    r++;
  });
  if (r !== rows) fail('changed while it was being read; try again');
  const integer = y.every((v) => Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER);
  return {
    x: { dtype: 'float32', shape: [rows, features], data: x },
    y: { dtype: integer ? 'int64' : 'float64', shape: [rows], data: y },
  };
}

interface Layout {
  delimiter: string;
  header: string[] | null;
  columns: number;
  /** The label column, 0-based. */
  label: number;
  /** The line the column count was taken from (for ragged-row errors). */
  firstLine: number;
}

function firstRow(line: string, lineNo: number, labelColumn: string | number | null, fail: Fail): Layout {
  const delimiter = line.includes(',') ? ',' : line.includes('\t') ? '\t' : line.includes(';') ? ';' : ',';
  const cells = splitRow(line, delimiter, lineNo, fail);
  // A header has a cell that is text (an empty cell alone does not make one: pandas leaves the index's name empty).
  const header = cells.some((c) => c !== '' && toNumber(c) === null) ? cells.map((c, i) => (i === 0 ? c.replace(/^#\s*/, '') : c)) : null;
  const columns = cells.length;
  if (columns < 2) {
    fail(`line ${lineNo} has ${columns} column${header ? ` (${printable(JSON.stringify(header[0]))})` : ''}; needs at least one feature column and a label column, separated by commas`);
  }
  return { delimiter, header, columns, label: labelIndex(labelColumn, header, columns, fail), firstLine: lineNo };
}

function labelIndex(want: string | number | null, header: string[] | null, columns: number, fail: Fail): number {
  if (want === null || want === undefined || want === '') return columns - 1;
  const range = `the file has ${columns} columns (indexes 0…${columns - 1}, or -${columns}…-1 from the end)`;
  const asIndex = typeof want === 'number' ? want : /^\s*-?\d+\s*$/.test(want) ? Number(want) : null;
  if (asIndex !== null) {
    if (!Number.isSafeInteger(asIndex) || asIndex >= columns || asIndex < -columns) fail(`label column ${want} not found: ${range}`);
    return asIndex < 0 ? columns + asIndex : asIndex;
  }
  const name = String(want);
  if (!header) fail(`label column "${printable(name)}" not found: the file has no header row (its first row is all numbers); give the column's 0-based index instead`);
  const at = header.indexOf(name);
  if (at < 0) {
    const near = header.findIndex((h) => h.trim().toLowerCase() === name.trim().toLowerCase());
    const names = header.slice(0, 12).map((h) => JSON.stringify(h)).join(', ') + (header.length > 12 ? ', ...' : '');
    fail(`label column "${printable(name)}" not found${near >= 0 ? ` (did you mean ${printable(JSON.stringify(header[near]))}?)` : ''}; the header has ${printable(names)}`);
  }
  if (header.indexOf(name, at + 1) >= 0) fail(`label column "${printable(name)}" is ambiguous: the header has it twice; give its 0-based index instead`);
  return at;
}

function checkRow(line: string, lineNo: number, layout: Layout, fail: Fail): string[] {
  const cells = splitRow(line, layout.delimiter, lineNo, fail);
  if (cells.length !== layout.columns) {
    fail(`line ${lineNo} has ${cells.length} column${cells.length === 1 ? '' : 's'}, line ${layout.firstLine} has ${layout.columns}: every row must have the same number of cells`);
  }
  return cells;
}

function parseCell(cell: string, lineNo: number, c: number, layout: Layout, fail: Fail): number {
  const v = toNumber(cell);
  if (v === null) {
    const where = `line ${lineNo}, column ${c + 1}${layout.header ? ` (${printable(JSON.stringify(layout.header[c]))})` : ''}`;
    fail(cell === '' ? `${where} is empty; every cell must be a number` : `${where}: ${printable(JSON.stringify(cell))} is not a number`);
  }
  return v;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A cell as a number (decimal or exponent notation, nan, inf, infinity), or null when it is not one. */
function toNumber(cell: string): number | null {
  if (DECIMAL.test(cell)) return Number(cell);
  if (/^[+-]?inf(inity)?$/i.test(cell)) return cell[0] === '-' ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(cell)) return NaN;
  return null;
}

/** The cells of one line, trimmed; quoted cells ("a, b" and "" for a quote) are unquoted. */
function splitRow(line: string, delimiter: string, lineNo: number, fail: Fail): string[] {
  if (!line.includes('"')) return line.split(delimiter).map((c) => c.trim());
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === ' ' || (line[i] === '\t' && delimiter !== '\t')) i++;
    let cell = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) fail(`line ${lineNo}: a quoted cell is not closed on its line (cells may not span lines)`);
        cell += line.slice(i, q);
        if (line[q + 1] === '"') {
          cell += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      const next = line.indexOf(delimiter, i);
      const rest = (next < 0 ? line.slice(i) : line.slice(i, next)).trim();
      if (rest !== '') fail(`line ${lineNo}: unexpected text ${printable(JSON.stringify(rest))} after a quoted cell`);
      cells.push(cell);
      if (next < 0) return cells;
      i = next + delimiter.length;
    } else {
      const next = line.indexOf(delimiter, i);
      cells.push((next < 0 ? line.slice(i) : line.slice(i, next)).trim());
      if (next < 0) return cells;
      i = next + delimiter.length;
    }
  }
}

/**
 * Calls `each` with every non-blank line (without its line break) and its 1-based line number, reading
 * the file in chunks of CHUNK bytes (UTF-8, a leading BOM dropped).
 */
function forEachLine(path: string, fail: Fail, each: (line: string, lineNo: number) => void): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail(code === 'ENOENT' ? 'file not found; check the path to the .csv file' : `cannot read the file (${code ?? String(e)})`);
  }
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let pending = '';
    let lineNo = 0;
    const emit = (line: string) => {
      lineNo++;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.trim() !== '') each(line, lineNo);
    };
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, CHUNK, null);
      } catch (e) {
        return fail(`cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      }
      let text: string;
      try {
        text = decoder.decode(buf.subarray(0, n), { stream: n > 0 });
      } catch {
        return fail(`is not valid UTF-8 text (after line ${lineNo}); save the CSV as UTF-8`);
      }
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        const line = pending + text.slice(start, nl);
        pending = '';
        start = nl + 1;
        emit(line);
      }
      pending += text.slice(start);
      if (pending.length > MAX_LINE) fail(`line ${lineNo + 1} is longer than ${MAX_LINE} characters; is this a CSV file?`);
      if (n === 0) break;
    }
    if (pending !== '') emit(pending);
  } finally {
    closeSync(fd);
  }
}
