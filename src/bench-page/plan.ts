// What the throughput page measures: the models prepared for it (bench-models.json, written by bench/bench-models.ts
// in Node) and the sweep settings read from the page's URL query. Browser-safe; the Node side imports the types.

/** One expert count of the scaling sweep: the token-routed model and the extracted task sub-network at that E. */
export interface BenchSweepModels {
  experts: number;
  /** manifest.json of the token-routed model (token/token, whole model), relative to bench-models.json. */
  token: string;
  /** manifest.json of the task-routed model extracted into a trunk plus one shard per language. */
  extracted: string;
}

/** bench-models.json: the random-weight models of one run, all with the same dimensions. */
export interface BenchModelIndex {
  format: 'taskmoe-bench-models';
  /** Shapes shared by every model (speed depends on shapes only; weights are random). */
  dims: { dModel: number; nHeads: number; dFF: number; encLayers: number; decLayers: number; vocab: number };
  /** Language decoded, and a second one for the per-extra-language download size. */
  lang: string;
  extraLang: string;
  /** English test sentences (the engines tokenize them; the first `batch` are one batch). */
  sentences: string[];
  sweeps: BenchSweepModels[];
  /** manifest.json of the dense model with the active size of the extracted sub-network (d_ff 2x in odd layers). */
  dense: string;
}

/** Sweep settings; every one can be set in the page's URL query (`?batches=1,2&steps=8&runs=5&warmup=1`). */
export interface BenchSettings {
  /** URL of bench-models.json. */
  models: string;
  batches: number[];
  /** Expert counts to run (default: every one the index lists). */
  experts: number[] | null;
  /** Forced decode steps per sentence: every engine decodes exactly this many; steps 2.. are timed (at least 2). */
  steps: number;
  runs: number;
  warmup: number;
  /** Engines to run (default all): token, extracted, dense, ort. */
  engines: EngineKind[];
  /** onnxruntime-web execution provider: webgpu (falls back to wasm where it fails), or wasm. */
  ortBackend: 'webgpu' | 'wasm';
  /**
   * Expert counts at which the dense model and onnxruntime-web run too (`compare=32`, the default; `compare=all`);
   * elsewhere only token-MoE and the extracted sub-network, whose contrast the scaling sweep is about (the other two do
   * not depend on E).
   */
  compareAt: number[] | 'all';
  /** taskmoe's fused decode-step kernels (TransformerModel.fuse; `fuse=0` runs the plain kernel sequence). */
  fuse: boolean;
}

export type EngineKind = 'token' | 'extracted' | 'dense' | 'ort';
export const ENGINE_KINDS: readonly EngineKind[] = ['token', 'extracted', 'dense', 'ort'];

/** The URL the runner and the test put bench-models.json at by default. */
export const DEFAULT_MODELS_URL = '/bench-results/models/bench-models.json';

function list(v: string | null, def: number[]): number[] {
  if (!v) return def;
  const out = v
    .split(',')
    .map((x) => Number(x.trim()))
    .filter((x) => Number.isInteger(x) && x > 0);
  return out.length ? out : def;
}

function int(v: string | null, def: number, min: number): number {
  const n = Number(v);
  return v !== null && Number.isInteger(n) && n >= min ? n : def;
}

/** Settings from a URL query string; unknown or invalid values fall back to the defaults. */
export function parseSettings(query: string): BenchSettings {
  const q = new URLSearchParams(query);
  const engines = (q.get('engines') ?? '')
    .split(',')
    .filter((e): e is EngineKind => (ENGINE_KINDS as readonly string[]).includes(e));
  return {
    models: q.get('models') ?? DEFAULT_MODELS_URL,
    batches: list(q.get('batches'), [1, 2, 4, 8, 16, 32, 64]),
    experts: q.get('experts') ? list(q.get('experts'), []) : null,
    steps: int(q.get('steps'), 16, 2),
    runs: int(q.get('runs'), 5, 1),
    warmup: int(q.get('warmup'), 1, 0),
    engines: engines.length ? engines : [...ENGINE_KINDS],
    ortBackend: q.get('ort') === 'wasm' ? 'wasm' : 'webgpu',
    compareAt: q.get('compare') === 'all' ? 'all' : list(q.get('compare'), [32]),
    fuse: q.get('fuse') !== '0',
  };
}

/** A throughput target: the extracted engine's peak decode throughput over another engine's, at least `ratio`. */
export interface ThroughputTarget {
  /** Row name; `{ort}` stands for the onnxruntime-web backend that ran. */
  name: string;
  against: EngineKind;
  ratio: number;
  /** What the ratio means, shown beside it. */
  note: string;
  /** The backend the target is about, and what to add to the note when another one ran. */
  ortBackend?: string;
  ortBackendMissing?: string;
}

/** Expert count the targets are judged at (the nearest one the run measured). */
export const TARGET_EXPERTS = 32;

/** The targets the page judges (Targets table, bench-results/latest.md), in one place. */
export const TARGETS: readonly ThroughputTarget[] = [
  { name: 'extracted / token-MoE, peak decode throughput', against: 'token', ratio: 2.6, note: '>= 2.6x' },
  {
    name: 'extracted / dense of the same active size, peak',
    against: 'dense',
    ratio: 1 / 1.1,
    note: 'within 1.1x (>= 0.909)',
  },
  {
    name: 'extracted / onnxruntime-web ({ort}) on the same sub-network, peak',
    against: 'ort',
    ratio: 1.5,
    note: '>= 1.5x',
    ortBackend: 'webgpu',
    ortBackendMissing: 'the target is about the WebGPU backend, which did not run',
  },
];
