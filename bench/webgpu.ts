// WebGPU benchmark (`npm run bench -- webgpu`, not part of the default run): training images/s of
// the time-conditioned UNet, batch 64, through onnxruntime's WebGPU provider against the same graph
// on onnxruntime's CPU provider, at D = 64 and D = 128. On a GPU's Vulkan driver this is the GPU's
// figure; on Mesa's lavapipe (software Vulkan, as on CI) it is a CPU emulation's and slow.
import type { UNetSpec } from '../src/engine/flow/unet.js';
import { trainingRate } from './part-b.js';

export interface WebgpuFigures {
  hidden: number;
  cpuImagesPerSecond: number;
  webgpuImagesPerSecond: number;
}

export async function benchWebgpu(opts: { steps?: number; hiddens?: number[] } = {}): Promise<WebgpuFigures[]> {
  const steps = opts.steps ?? 5;
  const rows: WebgpuFigures[] = [];
  console.log(
    `WebGPU — time-conditioned UNet, batch 64, ${steps} timed Adam steps after one warm-up; same graph on each provider`,
  );
  for (const hidden of opts.hiddens ?? [64, 128]) {
    const spec: UNetSpec = { kind: 'time', hidden };
    const cpu = await trainingRate('onnxruntime', spec, steps);
    let gpu: Awaited<ReturnType<typeof trainingRate>>;
    try {
      gpu = await trainingRate('webgpu', spec, steps);
    } catch (err) {
      console.log(
        `  D = ${hidden}: ${cpu.description} ${cpu.ips.toFixed(1)} images/s; WebGPU unavailable: ${(err as Error).message}`,
      );
      return rows;
    }
    rows.push({ hidden, cpuImagesPerSecond: cpu.ips, webgpuImagesPerSecond: gpu.ips });
    console.log(
      `  D = ${hidden}: ${gpu.description} ${gpu.ips.toFixed(1)} images/s (${gpu.gflops.toFixed(0)} GFLOP/s); ` +
        `${cpu.description} ${cpu.ips.toFixed(1)} images/s; WebGPU/CPU ${(gpu.ips / cpu.ips).toFixed(2)}×`,
    );
  }
  return rows;
}
