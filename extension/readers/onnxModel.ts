/**
 * Reads an ONNX model (`.onnx`, a protobuf ModelProto; field numbers from onnx/onnx.proto, IR version
 * 3–10) as untrusted input: every length is checked by the wire reader, tensor sizes are checked against
 * their dims and against limits before anything is allocated, and external data (`model.onnx.data`
 * beside the model, TensorProto.external_data with location/offset/length) may only come from a file
 * inside the model's folder, with offset and length inside that file and equal to what the dims need.
 * Anything wrong is an InputError naming the file.
 *
 * Only what the graph builder needs is kept: the main graph's nodes (op, inputs, outputs, attributes),
 * initializers (float types as Float32Array, integer and bool types as Float64Array of exact numbers),
 * graph inputs/outputs with their shapes, and the default-domain opset version.
 */
import { closeSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { InputError } from '../errors.js';
import { WireError, WireReader, type WireType } from './protobuf.js';

export interface OnnxTensor {
  name: string;
  dims: number[];
  /** 'float' for FLOAT/DOUBLE/FLOAT16/BFLOAT16 (values as float32), 'int' for integer and bool types. */
  kind: 'float' | 'int';
  /** ONNX TensorProto.DataType. */
  dataType: number;
  values: Float32Array | Float64Array;
}

export type OnnxAttribute =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: OnnxTensor }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'other'; value: number };

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, OnnxAttribute>;
}

export interface OnnxValueInfo {
  name: string;
  /** TensorProto.DataType of the element, 0 when not a tensor type. */
  elemType: number;
  /** Each dim a size, a symbolic name (dynamic, e.g. "batch") or null (unknown); null when no shape is given. */
  shape: Array<number | string | null> | null;
}

export interface OnnxModelFile {
  path: string;
  irVersion: number;
  /** Version of the default ("" / "ai.onnx") operator set. */
  opset: number;
  producer: string;
  graphName: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxLimits {
  /** Largest .onnx file accepted, bytes (protobuf itself stops at 2 GiB). */
  maxFileBytes: number;
  /** Largest total of tensor data (inline and external), bytes after conversion to 32/64-bit values. */
  maxTensorBytes: number;
  /** Most nodes in the graph. */
  maxNodes: number;
}
export const DEFAULT_ONNX_LIMITS: OnnxLimits = { maxFileBytes: 2 * 2 ** 30, maxTensorBytes: 2 * 2 ** 30, maxNodes: 200_000 };

/** TensorProto.DataType → bytes per element and kind, for the types a graph of weights may hold. */
const DTYPES: Record<number, { name: string; bytes: number; kind: 'float' | 'int' }> = {
  1: { name: 'FLOAT', bytes: 4, kind: 'float' },
  2: { name: 'UINT8', bytes: 1, kind: 'int' },
  3: { name: 'INT8', bytes: 1, kind: 'int' },
  4: { name: 'UINT16', bytes: 2, kind: 'int' },
  5: { name: 'INT16', bytes: 2, kind: 'int' },
  6: { name: 'INT32', bytes: 4, kind: 'int' },
  7: { name: 'INT64', bytes: 8, kind: 'int' },
  9: { name: 'BOOL', bytes: 1, kind: 'int' },
  10: { name: 'FLOAT16', bytes: 2, kind: 'float' },
  11: { name: 'DOUBLE', bytes: 8, kind: 'float' },
  12: { name: 'UINT32', bytes: 4, kind: 'int' },
  13: { name: 'UINT64', bytes: 8, kind: 'int' },
  16: { name: 'BFLOAT16', bytes: 2, kind: 'float' },
};
const DTYPE_NAMES: Record<number, string> = { 8: 'STRING', 14: 'COMPLEX64', 15: 'COMPLEX128', 17: 'FLOAT8E4M3FN', 18: 'FLOAT8E4M3FNUZ', 19: 'FLOAT8E5M2', 20: 'FLOAT8E5M2FNUZ', 21: 'UINT4', 22: 'INT4' };
export const dtypeName = (t: number): string => DTYPES[t]?.name ?? DTYPE_NAMES[t] ?? `type ${t}`;

/** Most values in a repeated attribute field, and in a tensor's typed (not raw_data) fields. */
const MAX_REPEATED = 2 ** 24;

export function readOnnxModel(path: string, limits: OnnxLimits = DEFAULT_ONNX_LIMITS): OnnxModelFile {
  const file = resolve(path);
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new InputError(path, 'is not a file; pass the path of an .onnx model');
    size = st.size;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(path, 'model file not found');
  }
  if (size > limits.maxFileBytes) throw new InputError(path, `is ${size} bytes, above the ${limits.maxFileBytes}-byte limit for .onnx files`);
  if (size === 0) throw new InputError(path, 'is empty: not an ONNX model');
  const buf = new Uint8Array(readFileSync(file));
  const ctx: Ctx = { path, dir: dirname(file), tensorBytes: 0, limits };
  try {
    return parseModel(buf, ctx);
  } catch (e) {
    if (e instanceof WireError) throw new InputError(path, `is not a valid ONNX protobuf (${e.message}); was it saved with onnx.save / torch.onnx.export?`);
    throw e;
  }
}

interface Ctx {
  path: string;
  dir: string;
  tensorBytes: number;
  limits: OnnxLimits;
}

function parseModel(buf: Uint8Array, ctx: Ctx): OnnxModelFile {
  const r = new WireReader(buf);
  let irVersion = 0;
  let producer = '';
  let graph: WireReader | null = null;
  const opsets = new Map<string, number>();
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === 0) irVersion = r.varint();
    else if (field === 2 && wire === 2) producer = r.string();
    else if (field === 7 && wire === 2) graph = r.sub();
    else if (field === 8 && wire === 2) {
      const o = r.sub();
      let domain = '';
      let version = 0;
      while (!o.done) {
        const t = o.tag();
        if (t.field === 1 && t.wire === 2) domain = o.string();
        else if (t.field === 2 && t.wire === 0) version = o.varint();
        else o.skip(t.wire);
      }
      opsets.set(domain === 'ai.onnx' ? '' : domain, version);
    } else r.skip(wire);
  }
  if (!graph || irVersion <= 0) throw new InputError(ctx.path, 'is not an ONNX model (no graph or IR version found); was it saved with onnx.save / torch.onnx.export?');
  const opset = opsets.get('') ?? (irVersion <= 2 ? 1 : 0);
  if (!opset) throw new InputError(ctx.path, 'declares no version of the default ONNX operator set (opset_import)');
  const g = parseGraph(graph, ctx);
  return { path: ctx.path, irVersion, opset, producer, ...g };
}

function parseGraph(r: WireReader, ctx: Ctx): Pick<OnnxModelFile, 'graphName' | 'nodes' | 'initializers' | 'inputs' | 'outputs'> {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const inputs: OnnxValueInfo[] = [];
  const outputs: OnnxValueInfo[] = [];
  let graphName = '';
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === 2) {
      if (nodes.length >= ctx.limits.maxNodes) throw new InputError(ctx.path, `the graph has more than ${ctx.limits.maxNodes} nodes`);
      nodes.push(parseNode(r.sub(), ctx));
    } else if (field === 2 && wire === 2) graphName = r.string();
    else if (field === 5 && wire === 2) initializers.push(parseTensor(r.sub(), ctx, 'initializer'));
    else if (field === 15 && wire === 2) throw new InputError(ctx.path, 'the graph has sparse initializers, which are not supported');
    else if (field === 11 && wire === 2) inputs.push(parseValueInfo(r.sub()));
    else if (field === 12 && wire === 2) outputs.push(parseValueInfo(r.sub()));
    else r.skip(wire);
  }
  return { graphName, nodes, initializers, inputs, outputs };
}

function parseNode(r: WireReader, ctx: Ctx): OnnxNode {
  const node: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: new Map() };
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === 2) node.inputs.push(r.string());
    else if (field === 2 && wire === 2) node.outputs.push(r.string());
    else if (field === 3 && wire === 2) node.name = r.string();
    else if (field === 4 && wire === 2) node.opType = r.string();
    else if (field === 7 && wire === 2) node.domain = r.string();
    else if (field === 5 && wire === 2) {
      const [name, a] = parseAttribute(r.sub(), ctx, node);
      node.attributes.set(name, a);
    } else r.skip(wire);
  }
  if (!node.opType) throw new WireError(`a node (${node.name || 'unnamed'}) has no op_type`);
  return node;
}

function parseAttribute(r: WireReader, ctx: Ctx, node: OnnxNode): [string, OnnxAttribute] {
  let name = '';
  let type = 0;
  let f: number | undefined;
  let i: number | undefined;
  let s: Uint8Array | undefined;
  let t: OnnxTensor | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === 2) name = r.string();
    else if (field === 20 && wire === 0) type = r.varint();
    else if (field === 2 && wire === 5) f = r.float32();
    else if (field === 3 && wire === 0) i = r.varint();
    else if (field === 4 && wire === 2) s = r.bytes();
    else if (field === 5 && wire === 2) t = parseTensor(r.sub(), ctx, `attribute of node "${node.name}"`);
    else if (field === 7) r.floats(wire, floats, MAX_REPEATED);
    else if (field === 8) r.varints(wire, ints, MAX_REPEATED);
    else if (field === 9 && wire === 2) strings.push(new TextDecoder().decode(r.bytes()));
    else r.skip(wire);
  }
  // AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7, STRINGS 8 (0 = infer, IR < 3).
  if (type === 0) type = f !== undefined ? 1 : i !== undefined ? 2 : s !== undefined ? 3 : t ? 4 : floats.length ? 6 : ints.length ? 7 : strings.length ? 8 : 0;
  switch (type) {
    case 1:
      return [name, { type: 'float', value: f ?? 0 }];
    case 2:
      return [name, { type: 'int', value: i ?? 0 }];
    case 3:
      return [name, { type: 'string', value: new TextDecoder().decode(s ?? new Uint8Array()) }];
    case 4:
      if (!t) throw new WireError(`tensor attribute "${name}" of node "${node.name}" has no tensor`);
      return [name, { type: 'tensor', value: t }];
    case 6:
      return [name, { type: 'floats', value: floats }];
    case 7:
      return [name, { type: 'ints', value: ints }];
    case 8:
      return [name, { type: 'strings', value: strings }];
    default:
      return [name, { type: 'other', value: type }];
  }
}

function parseValueInfo(r: WireReader): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', elemType: 0, shape: null };
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === 2) info.name = r.string();
    else if (field === 2 && wire === 2) {
      // TypeProto.tensor_type (1): elem_type (1), shape (2) → dim (1): dim_value (1) | dim_param (2).
      const tp = r.sub();
      while (!tp.done) {
        const a = tp.tag();
        if (a.field !== 1 || a.wire !== 2) {
          tp.skip(a.wire);
          continue;
        }
        const tt = tp.sub();
        while (!tt.done) {
          const b = tt.tag();
          if (b.field === 1 && b.wire === 0) info.elemType = tt.varint();
          else if (b.field === 2 && b.wire === 2) {
            const sh = tt.sub();
            info.shape = [];
            while (!sh.done) {
              const c = sh.tag();
              if (c.field !== 1 || c.wire !== 2) {
                sh.skip(c.wire);
                continue;
              }
              const d = sh.sub();
              let dim: number | string | null = null;
              while (!d.done) {
                const e = d.tag();
                if (e.field === 1 && e.wire === 0) dim = d.varint();
                else if (e.field === 2 && e.wire === 2) dim = d.string();
                else d.skip(e.wire);
              }
              info.shape.push(dim);
            }
          } else tt.skip(b.wire);
        }
      }
    } else r.skip(wire);
  }
  return info;
}

function parseTensor(r: WireReader, ctx: Ctx, what: string): OnnxTensor {
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let raw: Uint8Array | null = null;
  const floatData: number[] = [];
  const intData: number[] = [];
  const doubleData: number[] = [];
  const external = new Map<string, string>();
  let dataLocation = 0;
  let hasSegment = false;
  const maxValues = Math.min(ctx.limits.maxTensorBytes / 4, MAX_REPEATED); // torch writes raw_data for anything large
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1) r.varints(wire, dims, 64);
    else if (field === 2 && wire === 0) dataType = r.varint();
    else if (field === 3 && wire === 2) (r.skip(wire), (hasSegment = true));
    else if (field === 4) r.floats(wire, floatData, maxValues);
    else if (field === 5 || field === 7 || field === 11) r.varints(wire, intData, maxValues); // int32_data, int64_data, uint64_data
    else if (field === 10) r.doubles(wire, doubleData, maxValues);
    else if (field === 6 && wire === 2) throw new InputError(ctx.path, `${what} "${name}" holds strings; only numeric tensors are supported`);
    else if (field === 8 && wire === 2) name = r.string();
    else if (field === 9 && wire === 2) raw = r.bytes();
    else if (field === 13 && wire === 2) {
      const e = r.sub();
      let key = '';
      let value = '';
      while (!e.done) {
        const t = e.tag();
        if (t.field === 1 && t.wire === 2) key = e.string();
        else if (t.field === 2 && t.wire === 2) value = e.string();
        else e.skip(t.wire);
      }
      external.set(key, value);
    } else if (field === 14 && wire === 0) dataLocation = r.varint();
    else r.skip(wire as WireType);
  }
  const label = `${what} "${name}"`;
  if (hasSegment) throw new InputError(ctx.path, `${label} is a segment of a larger tensor, which is not supported`);
  const dt = DTYPES[dataType];
  if (!dt) throw new InputError(ctx.path, `${label} has data type ${dtypeName(dataType)}, which is not supported (numeric tensors only)`);
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new InputError(ctx.path, `${label} has invalid dims [${dims}]`);
  const count = dims.reduce((a, d) => a * d, 1);
  const outBytes = count * (dt.kind === 'float' ? 4 : 8);
  if (!Number.isSafeInteger(count) || ctx.tensorBytes + outBytes > ctx.limits.maxTensorBytes) {
    throw new InputError(ctx.path, `${label} with dims [${dims}] would bring the model's tensors above the ${ctx.limits.maxTensorBytes}-byte limit`);
  }
  ctx.tensorBytes += outBytes;
  const values = dt.kind === 'float' ? new Float32Array(count) : new Float64Array(count);
  if (dataLocation === 1) {
    raw = readExternal(ctx, label, external, count * dt.bytes);
  }
  if (raw) {
    if (raw.length !== count * dt.bytes) {
      throw new InputError(ctx.path, `${label} has ${raw.length} bytes of data but dims [${dims}] of ${dt.name} need ${count * dt.bytes}`);
    }
    decodeRaw(raw, dataType, values);
  } else {
    // Typed fields: FLOAT/FLOAT16/BFLOAT16 and the small int types in float_data/int32_data (float16 as
    // its bit pattern), DOUBLE in double_data, INT64/UINT32/UINT64 in int64_data/uint64_data.
    const src = dataType === 1 ? floatData : dataType === 11 ? doubleData : intData;
    if (src.length !== count) {
      throw new InputError(ctx.path, `${label} has ${src.length} values but dims [${dims}] need ${count}`);
    }
    if (dataType === 10 || dataType === 16) {
      const bits = new Uint16Array(src);
      decodeRaw(new Uint8Array(bits.buffer), dataType, values);
    } else {
      for (let k = 0; k < count; k++) values[k] = dataType === 13 && src[k] < 0 ? src[k] + 2 ** 64 : src[k];
    }
  }
  if (dt.kind === 'float') {
    const bad = (values as Float32Array).findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new InputError(ctx.path, `${label} has a non-finite value (${values[bad]}) at flat index ${bad}`);
  }
  return { name, dims, kind: dt.kind, dataType, values };
}

function decodeRaw(raw: Uint8Array, dataType: number, out: Float32Array | Float64Array): void {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = out.length;
  for (let k = 0; k < n; k++) {
    switch (dataType) {
      case 1:
        out[k] = v.getFloat32(4 * k, true);
        break;
      case 2:
        out[k] = v.getUint8(k);
        break;
      case 3:
        out[k] = v.getInt8(k);
        break;
      case 4:
        out[k] = v.getUint16(2 * k, true);
        break;
      case 5:
        out[k] = v.getInt16(2 * k, true);
        break;
      case 6:
        out[k] = v.getInt32(4 * k, true);
        break;
      case 7:
        out[k] = Number(v.getBigInt64(8 * k, true));
        break;
      case 9:
        out[k] = v.getUint8(k) ? 1 : 0;
        break;
      case 10:
        out[k] = half(v.getUint16(2 * k, true));
        break;
      case 11:
        out[k] = v.getFloat64(8 * k, true);
        break;
      case 12:
        out[k] = v.getUint32(4 * k, true);
        break;
      case 13:
        out[k] = Number(v.getBigUint64(8 * k, true));
        break;
      case 16:
        out[k] = new Float32Array(new Uint32Array([v.getUint16(2 * k, true) << 16]).buffer)[0];
        break;
    }
  }
}

/** IEEE 754 half precision → number. */
function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * External tensor data (ONNX external data: location relative to the model's folder, optional offset
 * and length). The file must resolve, symlinks followed, inside the model's folder; offset + length must
 * lie inside it; the length must be what the dims need.
 */
function readExternal(ctx: Ctx, label: string, entries: Map<string, string>, need: number): Uint8Array {
  const location = entries.get('location');
  if (!location) throw new InputError(ctx.path, `${label} says its data is external but gives no location`);
  if (isAbsolute(location) || /^[a-zA-Z]:/.test(location)) {
    throw new InputError(ctx.path, `${label}: external data location "${location}" is an absolute path; external data must sit in the model's folder`);
  }
  const target = resolve(ctx.dir, location);
  const rel = relative(ctx.dir, target);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new InputError(ctx.path, `${label}: external data location "${location}" leaves the model's folder; external data must sit beside the model`);
  }
  let real: string;
  let size: number;
  try {
    real = realpathSync(target);
    const st = statSync(real);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    throw new InputError(target, `external data file is missing (named by ${label} in ${ctx.path})`);
  }
  const realDir = realpathSync(ctx.dir);
  if (!real.startsWith(realDir + sep)) {
    throw new InputError(ctx.path, `${label}: external data "${location}" is a link to a file outside the model's folder`);
  }
  const num = (key: string): number | null => {
    const s = entries.get(key);
    if (s === undefined) return null;
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new InputError(ctx.path, `${label}: external data ${key} "${s}" is not a non-negative integer`);
    return Number(s);
  };
  const offset = num('offset') ?? 0;
  const length = num('length') ?? size - offset;
  if (length !== need) {
    throw new InputError(ctx.path, `${label}: external data length ${length} disagrees with the ${need} bytes its dims need`);
  }
  if (offset + length > size) {
    throw new InputError(target, `external data for ${label} would span bytes ${offset}–${offset + length} but the file has ${size}: the data file is truncated or does not belong to this model`);
  }
  const out = new Uint8Array(length);
  const fd = openSync(real, 'r');
  try {
    let got = 0;
    while (got < length) {
      const n = readSync(fd, out, got, length - got, offset + got);
      if (n <= 0) throw new InputError(target, `external data file ended early while reading ${label}`);
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}
