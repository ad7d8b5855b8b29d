/**
 * A minimal protocol-buffers wire-format reader (https://protobuf.dev/programming-guides/encoding/):
 * enough to walk a message field by field, with every length checked against the bytes that are left.
 * Malformed input throws WireError (the caller turns it into an InputError naming the file). No code
 * generation and no schema at run time: each message type is decoded by a small hand-written function
 * (see onnxModel.ts) that knows its field numbers.
 */

export class WireError extends Error {}

/** Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 (3/4, groups, are refused). */
export type WireType = 0 | 1 | 2 | 5;

export class WireReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The next field's number and wire type. */
  tag(): { field: number; wire: WireType } {
    const t = this.varint();
    const wire = t % 8;
    const field = Math.floor(t / 8);
    if (field < 1 || field > 536870911) throw new WireError(`invalid field number ${field} at byte ${this.pos}`);
    if (wire !== 0 && wire !== 1 && wire !== 2 && wire !== 5) throw new WireError(`unsupported wire type ${wire} (field ${field}) at byte ${this.pos}`);
    return { field, wire: wire as WireType };
  }

  /**
   * A varint as a JavaScript number: exact up to 2^53; two's-complement 64-bit negatives (10-byte
   * varints) come back negative. Larger magnitudes are rounded (only ever seen as "until the end" in
   * Slice bounds).
   */
  varint(): number {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; ; i++) {
      if (this.pos >= this.end) throw new WireError('truncated varint');
      if (i >= 10) throw new WireError('varint longer than 10 bytes');
      const b = this.buf[this.pos++];
      if (shift < 28) lo += (b & 0x7f) * 2 ** shift;
      else if (shift === 28) {
        lo += (b & 0x0f) * 2 ** 28;
        hi += (b & 0x7f) >>> 4;
      } else hi += (b & 0x7f) * 2 ** (shift - 32);
      shift += 7;
      if (!(b & 0x80)) break;
    }
    hi = hi % 2 ** 32;
    if (hi >= 2 ** 31) return -((2 ** 32 - 1 - hi) * 2 ** 32 + (2 ** 32 - lo));
    return hi * 2 ** 32 + lo;
  }

  /** The bounds of a length-delimited field's payload, which the reader then skips. */
  span(): { start: number; end: number } {
    const n = this.varint();
    if (n < 0 || n > this.end - this.pos) throw new WireError(`length ${n} at byte ${this.pos} runs past the end of its message (${this.end - this.pos} bytes left)`);
    const start = this.pos;
    this.pos += n;
    return { start, end: this.pos };
  }

  bytes(): Uint8Array {
    const { start, end } = this.span();
    return this.buf.subarray(start, end);
  }

  string(): string {
    return new TextDecoder('utf-8', { fatal: false }).decode(this.bytes());
  }

  sub(): WireReader {
    const { start, end } = this.span();
    return new WireReader(this.buf, start, end);
  }

  float32(): number {
    if (this.end - this.pos < 4) throw new WireError('truncated fixed32');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  float64(): number {
    if (this.end - this.pos < 8) throw new WireError('truncated fixed64');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  skip(wire: WireType): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.advance(8);
    else if (wire === 5) this.advance(4);
    else this.span();
  }

  /** A repeated varint field, packed (wire 2) or not (wire 0), appended to `out`. */
  varints(wire: WireType, out: number[], limit: number): void {
    if (wire === 0) {
      if (out.length >= limit) throw new WireError(`more than ${limit} values`);
      out.push(this.varint());
    } else if (wire === 2) {
      const r = this.sub();
      while (!r.done) {
        if (out.length >= limit) throw new WireError(`more than ${limit} packed values`);
        out.push(r.varint());
      }
    } else throw new WireError(`wire type ${wire} for a varint field`);
  }

  /** A repeated float field, packed or not. */
  floats(wire: WireType, out: number[], limit: number): void {
    if (wire === 5) {
      if (out.length >= limit) throw new WireError(`more than ${limit} values`);
      out.push(this.float32());
    } else if (wire === 2) {
      const r = this.sub();
      if ((r.end - r.pos) % 4) throw new WireError('packed floats of a length not a multiple of 4');
      if (out.length + (r.end - r.pos) / 4 > limit) throw new WireError(`more than ${limit} packed values`);
      while (!r.done) out.push(r.float32());
    } else throw new WireError(`wire type ${wire} for a float field`);
  }

  /** A repeated double field, packed or not. */
  doubles(wire: WireType, out: number[], limit: number): void {
    if (wire === 1) {
      if (out.length >= limit) throw new WireError(`more than ${limit} values`);
      out.push(this.float64());
    } else if (wire === 2) {
      const r = this.sub();
      if ((r.end - r.pos) % 8) throw new WireError('packed doubles of a length not a multiple of 8');
      if (out.length + (r.end - r.pos) / 8 > limit) throw new WireError(`more than ${limit} packed values`);
      while (!r.done) out.push(r.float64());
    } else throw new WireError(`wire type ${wire} for a double field`);
  }

  private advance(n: number): void {
    if (this.end - this.pos < n) throw new WireError('truncated field');
    this.pos += n;
  }
}
