// DeepFloyd IF stage I at IF-I-M's size (`npm run bench -- deepfloyd [cpu|cuda|webgpu]`, not part of
// the default run): IF-I-XL's configuration at a smaller width (../shared/if-golden/configs/
// IF-I-M-like-unet-config.json, 372M parameters) with seeded random fp16 weights written to a temp
// safetensors file, loaded through IfUnet.load as an operator's download would be. Prints the load
// time, seconds per CFG step at 64 px (batch 2: unconditional + conditional rows, T5 states
// [2, 77, 4096]) and the process's peak memory.
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IfUnet } from '../src/engine/denoisers/deepfloyd/unet.js';
import { parseUnetConfig, textInputDim } from '../src/engine/denoisers/deepfloyd/unet-config.js';
import {
  StructureOnlyWeights,
  buildUnetGraph,
  type WeightSource,
} from '../src/engine/denoisers/deepfloyd/unet-graph.js';
import type { GraphBuilder } from '../src/engine/onnx/graph-builder.js';
import { projectRoot } from '../src/engine/paths.js';
import { Rng } from '../src/engine/random.js';
import { toHalf } from '../src/engine/runtime/half.js';
import type { ProviderChoice } from '../src/engine/runtime/onnx.js';
import { randn } from '../src/engine/tensor.js';

export const IF_M_LIKE_CONFIG = join(
  projectRoot(),
  '..',
  'shared',
  'if-golden',
  'configs',
  'IF-I-M-like-unet-config.json',
);

/** The parameters (names and shapes) a config's graph asks for, in the order it asks. */
function parameterList(config: ReturnType<typeof parseUnetConfig>): Array<{ name: string; shape: number[] }> {
  const list: Array<{ name: string; shape: number[] }> = [];
  const inner = new StructureOnlyWeights();
  const recorder: WeightSource = {
    param(g: GraphBuilder, name: string, shape: readonly number[]) {
      list.push({ name, shape: [...shape] });
      return inner.param(g, name, shape);
    },
  };
  buildUnetGraph(config, recorder);
  return list;
}

/**
 * Writes a diffusers-style fp16 safetensors file of seeded random weights: norms' weights 1, biases 0,
 * the rest N(0, 1/fan_in), so activations stay in range (no NaNs or denormals skewing the timing).
 * One tensor in memory at a time.
 */
export function writeRandomFp16Unet(path: string, params: Array<{ name: string; shape: number[] }>, seed = 0): number {
  const sorted = [...params].sort((a, b) => (a.name < b.name ? -1 : 1));
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const p of sorted) {
    const bytes = p.shape.reduce((a, b) => a * b, 1) * 2;
    header[p.name] = { dtype: 'F16', shape: p.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, json);
    const rng = new Rng(seed);
    for (const p of sorted) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      const out = new Uint16Array(n);
      const isNorm = /norm[^.]*\.weight$/.test(p.name) || /\.norm\d?\.weight$/.test(p.name);
      if (p.name.endsWith('.bias')) out.fill(0);
      else if (isNorm || p.shape.length === 1) out.fill(toHalf(1));
      else {
        const std = 1 / Math.sqrt(n / p.shape[0]!);
        const z = rng.normals(n);
        for (let i = 0; i < n; i++) out[i] = toHalf(std * z[i]!);
      }
      writeSync(fd, out);
    }
  } finally {
    closeSync(fd);
  }
  return offset;
}

export interface DeepfloydBench {
  parameters: number;
  weightBytes: number;
  writeSeconds: number;
  loadSeconds: number;
  secondsPerCfgStep: number[];
  peakRssBytes: number;
  provider: string;
}

export async function benchDeepfloyd(
  opts: { steps?: number; provider?: ProviderChoice } = {},
): Promise<DeepfloydBench> {
  const steps = opts.steps ?? 3;
  const raw = JSON.parse(readFileSync(IF_M_LIKE_CONFIG, 'utf8')) as unknown;
  const config = parseUnetConfig(raw);
  const dir = mkdtempSync(join(tmpdir(), 'if-m-bench-'));
  try {
    const unetDir = join(dir, 'unet');
    mkdirSync(unetDir);
    writeFileSync(join(unetDir, 'config.json'), JSON.stringify(raw));
    const t0 = performance.now();
    const params = parameterList(config);
    const weightBytes = writeRandomFp16Unet(join(unetDir, 'diffusion_pytorch_model.fp16.safetensors'), params);
    const writeSeconds = (performance.now() - t0) / 1000;
    console.log(
      `IF-I-M-like stage I (${IF_M_LIKE_CONFIG}): ${params.length} tensors, ${(weightBytes / 1e9).toFixed(2)} GB fp16 written in ${writeSeconds.toFixed(1)} s`,
    );
    let provider = '';
    const t1 = performance.now();
    const unet = await IfUnet.load(unetDir, {
      variant: 'fp16',
      provider: opts.provider ?? 'auto',
      log: (m) => (provider = m),
    });
    const loadSeconds = (performance.now() - t1) / 1000;
    try {
      const d = textInputDim(config);
      const rng = new Rng(1);
      const x = randn([2, 3, 64, 64], rng);
      const ehs = randn([2, 77, d, 1], rng).data;
      console.log(
        `  ${unet.info.parameters.toLocaleString('en-US')} parameters; load ${loadSeconds.toFixed(1)} s (graph ${(unet.info.buildMs / 1000).toFixed(2)} s, session ${(unet.info.sessionMs / 1000).toFixed(1)} s); ${provider}`,
      );
      const times: number[] = [];
      for (let i = 0; i <= steps; i++) {
        const s = performance.now();
        const out = await unet.predict(x, 990 - 30 * i, ehs);
        const dt = (performance.now() - s) / 1000;
        if (!out.every(Number.isFinite)) throw new Error('the random UNet gave non-finite outputs');
        if (i > 0) times.push(dt);
        console.log(`  CFG step ${i === 0 ? '(warm-up)' : i}: ${dt.toFixed(2)} s`);
      }
      const sorted = [...times].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      const peakRssBytes = process.resourceUsage().maxRSS * 1024;
      console.log(
        `  seconds per CFG step at 64 px (batch 2, text [2, 77, ${d}]): median ${median.toFixed(2)} s of ${steps}; peak RSS ${(peakRssBytes / 1e9).toFixed(2)} GB`,
      );
      console.log(
        '  (diffusers 0.25.1 on torch 1.13, same config, per if-golden README: 5.9–8.5 s fp32, 2.1–2.5 s bf16 autocast, on another CPU; compare only side by side)',
      );
      return {
        parameters: unet.info.parameters,
        weightBytes,
        writeSeconds,
        loadSeconds,
        secondsPerCfgStep: times,
        peakRssBytes,
        provider,
      };
    } finally {
      await unet.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
