/**
 * Seeded pseudo-random numbers for the estimators: xoshiro128** (Blackman & Vigna, "Scrambled linear
 * pseudorandom number generators", ACM TOMS 47(4), 2021), its 128-bit state filled from the seed by
 * splitmix32-style mixing (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
 * OOPSLA 2014; 32-bit finaliser constants from Wellons' hash-prospector "lowbias32").
 *
 * Deterministic across platforms: the integer stream uses only 32-bit integer operations, `uniform()`
 * is exact integer arithmetic on doubles, and `normal()` uses Math.log/sqrt/cos/sin, which Node's V8
 * computes with the same fdlibm-derived code on every platform.
 */

const TWO_POW_32 = 4294967296;

/** 32-bit finaliser (lowbias32); a bijection of uint32 with good avalanche. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x21f0aaad);
  x ^= x >>> 15;
  x = Math.imul(x, 0x735a2d97);
  x ^= x >>> 15;
  return x >>> 0;
}

/** Splits a safe integer into its low and high 32-bit words (two's complement for negatives). */
function words(seed: number, what: string): [lo: number, hi: number] {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`${what} must be a safe integer, got ${seed}`);
  return [seed >>> 0, Math.floor(seed / TWO_POW_32) >>> 0];
}

/**
 * A seed for an independent stream, e.g. one per Lanczos run or per layer:
 * derive(seed, 0), derive(seed, 1), … Different (seed, stream) pairs give unrelated 53-bit seeds.
 */
export function derive(seed: number, stream: number): number {
  const [lo, hi] = words(seed, 'seed');
  const [slo, shi] = words(stream, 'stream');
  let h = mix32((lo + 0x9e3779b9) >>> 0);
  h = mix32(((h ^ hi) + 0x7f4a7c15) >>> 0);
  h = mix32(((h ^ slo) + 0x85ebca6b) >>> 0);
  h = mix32(((h ^ shi) + 0xc2b2ae35) >>> 0);
  const h2 = mix32((h + 0x27d4eb2f) >>> 0);
  return (h2 & 0x1fffff) * TWO_POW_32 + h;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  /** @param seed any safe integer; the same seed always gives the same sequence. */
  constructor(seed: number) {
    const [lo, hi] = words(seed, 'seed');
    // splitmix32: a Weyl sequence through the finaliser; the high word perturbs the starting point.
    let x = (lo ^ mix32((hi + 0x6a09e667) >>> 0)) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      return mix32(x);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the one forbidden state
  }

  /** Next uniform 32-bit unsigned integer (xoshiro128**). */
  nextU32(): number {
    const s1 = this.s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextU32() >>> 5; // 27 bits
    const b = this.nextU32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Standard normal N(0, 1) by the Box–Muller transform (pairs; the second value is kept). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const phi = 2 * Math.PI * u2;
    this.spare = r * Math.sin(phi);
    return r * Math.cos(phi);
  }

  /** n independent signs ±1, each with probability 1/2 (32 signs per 32-bit draw). */
  rademacher(n: number): Float32Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`length must be a non-negative integer, got ${n}`);
    const z = new Float32Array(n);
    let bits = 0;
    for (let i = 0; i < n; i++) {
      if ((i & 31) === 0) bits = this.nextU32();
      z[i] = (bits >>> (i & 31)) & 1 ? 1 : -1;
    }
    return z;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
