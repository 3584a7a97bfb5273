/**
 * Synthetic "semantic-like" unit vectors for the ANN benchmark, generated deterministically from a
 * seed, and the exact top-k against them.
 *
 * Why they resemble real text embeddings (what makes ANN easy or hard on those):
 * - a low intrinsic dimension: everything that carries meaning lies in a random 64-dimension
 *   subspace of the 384 or 1536 dimensions;
 * - hierarchical topics: 64 topics, each with 32 clusters (2,048 in all), of skewed sizes;
 *   a document's chunks keep mostly to its topic (70 %), as a real document's do;
 * - anisotropy: a direction every vector shares, so unrelated texts have cosine ≈ 0.15, not 0;
 * - isotropic noise over all dimensions, so no two chunks are the same and near neighbours are
 *   near, not identical (the top-10 cosines are 0.6–0.8, not ≈ 1).
 * Shares of a vector's squared norm: common 0.15, topic 0.20, cluster 0.25, within-cluster 0.25
 * (in the subspace), noise 0.15.
 */

const SUBSPACE = 64;
const TOPICS = 64;
const CLUSTERS_PER_TOPIC = 32;
const SHARE = { common: 0.15, topic: 0.2, cluster: 0.25, within: 0.25, noise: 0.15 };
/** Probability that a chunk's cluster is in its document's topic. */
const ON_TOPIC = 0.7;

/** sfc32: a small, fast seeded generator with a 128-bit state. */
export function rng(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (a + b + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 20; i++) next();
  return next;
}

/** Standard normal deviates (Box–Muller, both outputs used). */
function gaussian(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = random() || 1e-12;
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * random();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

export class SemanticVectors {
  readonly dims: number;
  /** The subspace basis: SUBSPACE random unit vectors of `dims` (nearly orthogonal). */
  private readonly basis: Float32Array;
  private readonly common: Float32Array;
  /** Cluster centres in subspace coordinates (topic part + cluster part). */
  private readonly centres: Float32Array;
  readonly clusters = TOPICS * CLUSTERS_PER_TOPIC;

  constructor(dims: number, seed = 1) {
    this.dims = dims;
    const normal = gaussian(rng(seed));
    const unit = (n: number) => {
      const v = Float32Array.from({ length: n }, normal);
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    };
    // Stored transposed (dims rows of SUBSPACE): each output coordinate is one short dot product.
    this.basis = new Float32Array(SUBSPACE * dims);
    for (let k = 0; k < SUBSPACE; k++) unit(dims).forEach((x, i) => (this.basis[i * SUBSPACE + k] = x));
    this.common = unit(dims);
    const topics = Array.from({ length: TOPICS }, () => unit(SUBSPACE));
    this.centres = new Float32Array(this.clusters * SUBSPACE);
    for (let c = 0; c < this.clusters; c++) {
      const own = unit(SUBSPACE);
      const topic = topics[c % TOPICS]!;
      for (let k = 0; k < SUBSPACE; k++) this.centres[c * SUBSPACE + k] = Math.sqrt(SHARE.topic) * topic[k]! + Math.sqrt(SHARE.cluster) * own[k]!;
    }
  }

  /**
   * A stream of documents' chunks: `next(out, offset)` writes the next chunk's unit vector into
   * `out` at `offset`. Every `chunksPerDocument` chunks a new document (and topic) begins.
   */
  stream(seed: number, chunksPerDocument: number): (out: Float32Array, offset: number) => void {
    const random = rng(seed);
    const normal = gaussian(random);
    const { dims, basis, common, centres } = this;
    const z = new Float32Array(SUBSPACE);
    const noiseScale = Math.sqrt(SHARE.noise / dims);
    const withinScale = Math.sqrt(SHARE.within / SUBSPACE);
    const commonScale = Math.sqrt(SHARE.common);
    let topic = 0;
    let n = 0;
    return (out, offset) => {
      // Skewed sizes: the largest topic holds ~2.6× the mean share, the largest cluster of a topic ~2.2×.
      if (n++ % chunksPerDocument === 0) topic = Math.floor(TOPICS * random() ** 1.3);
      const inTopic = random() < ON_TOPIC ? topic : Math.floor(TOPICS * random());
      const cluster = Math.floor(CLUSTERS_PER_TOPIC * random() ** 1.3) * TOPICS + inTopic;
      for (let k = 0; k < SUBSPACE; k++) z[k] = centres[cluster * SUBSPACE + k]! + withinScale * normal();
      let norm = 0;
      for (let i = 0; i < dims; i++) {
        const x = commonScale * common[i]! + noiseScale * normal() + dot(z, 0, basis, i * SUBSPACE, SUBSPACE);
        out[offset + i] = x;
        norm += x * x;
      }
      norm = Math.sqrt(norm);
      for (let i = 0; i < dims; i++) out[offset + i] = out[offset + i]! / norm;
    };
  }
}

/**
 * The exact top-k of many queries over vectors seen batch by batch (cosine = dot product: every
 * vector is a unit vector). Also the mean cosine of all pairs seen, for how easy the data is.
 */
export class ExactTopK {
  private readonly queries: Float32Array;
  private readonly dims: number;
  private readonly k: number;
  private readonly scores: Float64Array[];
  private readonly ids: Int32Array[];
  private sum = 0;
  private pairs = 0;

  constructor(queries: Float32Array, dims: number, k: number) {
    this.queries = queries;
    this.dims = dims;
    this.k = k;
    const count = queries.length / dims;
    this.scores = Array.from({ length: count }, () => new Float64Array(k).fill(-Infinity));
    this.ids = Array.from({ length: count }, () => new Int32Array(k).fill(-1));
  }

  /** Offers vectors `firstId, firstId+1, …` (`vectors` holds them one after another); `keep(id)` says which count. */
  add(vectors: Float32Array, firstId: number, keep: (id: number) => boolean = () => true): void {
    const { queries, dims, k } = this;
    const count = vectors.length / dims;
    for (let n = 0; n < count; n++) {
      if (!keep(firstId + n)) continue;
      const xo = n * dims;
      for (let q = 0; q < this.scores.length; q++) {
        const score = dot(vectors, xo, queries, q * dims, dims);
        this.sum += score;
        this.pairs++;
        const scores = this.scores[q]!;
        if (score <= scores[k - 1]!) continue;
        const ids = this.ids[q]!;
        let at = k - 1;
        while (at > 0 && scores[at - 1]! < score) {
          scores[at] = scores[at - 1]!;
          ids[at] = ids[at - 1]!;
          at--;
        }
        scores[at] = score;
        ids[at] = firstId + n;
      }
    }
  }

  /** Each query's exact top-k ids, best first. */
  top(): number[][] {
    return this.ids.map((ids) => [...ids].filter((id) => id >= 0));
  }

  /** Mean cosine of each query's rank-1 and rank-k neighbour, and of all pairs seen. */
  stats(): { top1: number; topK: number; all: number } {
    const mean = (f: (s: Float64Array) => number) => round(this.scores.reduce((sum, s) => sum + f(s), 0) / this.scores.length);
    return { top1: mean((s) => s[0]!), topK: mean((s) => s[this.k - 1]!), all: round(this.sum / this.pairs) };
  }
}

/** Dot product of `a[ao…ao+n)` and `b[bo…bo+n)`; `n` a multiple of 4. */
function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let i = 0; i < n; i += 4) {
    s0 += a[ao + i]! * b[bo + i]!;
    s1 += a[ao + i + 1]! * b[bo + i + 1]!;
    s2 += a[ao + i + 2]! * b[bo + i + 2]!;
    s3 += a[ao + i + 3]! * b[bo + i + 3]!;
  }
  return s0 + s1 + s2 + s3;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
