// The project's kernels for TensorFlow.js' wasm backend: the conv-training kernels it lacks or
// runs slowly, and a copy-free Identity and Cast (registered by tf.ts before the backend starts).
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo, NamedAttrMap } from '@tensorflow/tfjs-core';

// Kernels for the wasm backend. They are built from the backend's own fast kernels (Conv2D via
// XNNPACK, Transpose, Reverse, Pad, Reshape, Slice) looked up with tf.getKernel, so no data
// leaves wasm memory.

interface WasmBackendLike {
  disposeData(dataId: object): boolean;
  incRef(dataId: object): void;
}

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: WasmBackendLike; attrs?: NamedAttrMap };

function kernel(name: string): KernelFunc {
  const config = tf.getKernel(name, 'wasm');
  if (!config) throw new Error(`wasm backend has no '${name}' kernel`);
  return config.kernelFunc;
}

function call(
  name: string,
  backend: WasmBackendLike,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap = {},
): TensorInfo {
  // biome-ignore lint/suspicious/noExplicitAny: tfjs-core does not export the kernel function types
  return kernel(name)({ inputs, backend: backend as any, attrs } as any) as TensorInfo;
}

/** Runs `steps` in order, disposing every intermediate but the last result. */
class Scratch {
  private readonly owned: TensorInfo[] = [];
  constructor(private readonly backend: WasmBackendLike) {}
  keep(t: TensorInfo): TensorInfo {
    this.owned.push(t);
    return t;
  }
  run(name: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap = {}): TensorInfo {
    return this.keep(call(name, this.backend, inputs, attrs));
  }
  release(result: TensorInfo): TensorInfo {
    for (const t of this.owned) if (t !== result) this.backend.disposeData(t.dataId);
    return result;
  }
}

function convPads(
  inShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: unknown,
  dimRoundingMode: unknown,
): { top: number; bottom: number; left: number; right: number; sh: number; sw: number; outH: number; outW: number } {
  const info = tf.backend_util.computeConv2DInfo(
    inShape,
    filterShape,
    strides,
    1,
    pad as 'valid',
    dimRoundingMode as 'floor' | undefined,
  );
  return {
    top: info.padInfo.top,
    bottom: info.padInfo.bottom,
    left: info.padInfo.left,
    right: info.padInfo.right,
    sh: info.strideHeight,
    sw: info.strideWidth,
    outH: info.outHeight,
    outW: info.outWidth,
  };
}

/**
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s+kh−pad, ow·s+kw−pad, ci] · dy[n,oh,ow,co]: a convolution
 * of x (batch and channel axes swapped) with dy as the filter, dilation = stride.
 */
export const conv2DBackpropFilterWasm: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args as unknown as KernelArgs;
  const x = inputs.x!;
  const dy = inputs.dy!;
  const a = attrs as {
    strides: [number, number] | number;
    pad: unknown;
    dimRoundingMode?: unknown;
    filterShape: [number, number, number, number];
    dataFormat?: string;
  };
  if (a.dataFormat && a.dataFormat !== 'NHWC')
    throw new Error(`Conv2DBackpropFilter: only NHWC is supported, got ${a.dataFormat}`);
  const [kh, kw] = a.filterShape;
  const p = convPads(x.shape as [number, number, number, number], a.filterShape, a.strides, a.pad, a.dimRoundingMode);
  const s = new Scratch(backend);
  const xT = s.run('Transpose', { x }, { perm: [3, 1, 2, 0] }); // [Ci, H, W, N]
  const dyT = s.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [OH, OW, N, Co]
  let w = s.run('Conv2D', { x: xT, filter: dyT }, {
    strides: [1, 1],
    pad: [
      [0, 0],
      [p.top, p.bottom],
      [p.left, p.right],
      [0, 0],
    ],
    dilations: [p.sh, p.sw],
    dataFormat: 'NHWC',
    dimRoundingMode: undefined,
  } as unknown as NamedAttrMap); // [Ci, KH', KW', Co] with KH' ≥ KH
  if (w.shape[1] !== kh || w.shape[2] !== kw) {
    w = s.run('Slice', { x: w }, { begin: [0, 0, 0, 0], size: [-1, kh, kw, -1] });
  }
  const out = s.run('Transpose', { x: w }, { perm: [1, 2, 0, 3] }); // [KH, KW, Ci, Co]
  return s.release(out);
};

/**
 * dx = conv(zero-dilated dy, 180°-rotated filter with in/out swapped), stride 1. Replaces the
 * wasm backend's scalar loop (~1.5 GFLOP/s) with XNNPACK's convolution. Also the forward pass
 * of tf.conv2dTranspose.
 */
export const conv2DBackpropInputWasm: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args as unknown as KernelArgs;
  const dy = inputs.dy!;
  const filter = inputs.filter!;
  const a = attrs as {
    strides: [number, number] | number;
    pad: unknown;
    dimRoundingMode?: unknown;
    inputShape: [number, number, number, number];
    dataFormat?: string;
  };
  if (a.dataFormat && a.dataFormat !== 'NHWC')
    throw new Error(`Conv2DBackpropInput: only NHWC is supported, got ${a.dataFormat}`);
  const [n, h, wd, ci] = a.inputShape;
  const [kh, kw, , co] = filter.shape as [number, number, number, number];
  const p = convPads(
    a.inputShape,
    filter.shape as [number, number, number, number],
    a.strides,
    a.pad,
    a.dimRoundingMode,
  );
  const [, oh, ow] = dy.shape as [number, number, number, number];
  const s = new Scratch(backend);
  if (oh === 1 && ow === 1 && p.top === 0 && p.left === 0 && h === kh && wd === kw) {
    // A 1×1 input (the UNet's Unflatten): dx[n,h,w,ci] = Σ_co dy[n,co]·W[h,w,ci,co], one matmul.
    const a3 = s.run('Reshape', { x: dy }, { shape: [1, n, co] });
    const b3 = s.run('Reshape', { x: filter }, { shape: [1, kh * kw * ci, co] });
    const prod = s.run('BatchMatMul', { a: a3, b: b3 }, { transposeA: false, transposeB: true });
    return s.release(s.run('Reshape', { x: prod }, { shape: [n, h, wd, ci] }));
  }
  if ((p.sh > 1 || p.sw > 1) && h % p.sh === 0 && wd % p.sw === 0) {
    const phased = backpropInputByPhases(s, dy, filter, { n, h, wd, ci, kh, kw, oh, ow, ...p });
    if (phased) return s.release(phased);
  }
  let src = dy;
  let dh = oh;
  let dw = ow;
  if (p.sh > 1 || p.sw > 1) {
    // Insert (stride − 1) zeros after every row/column: [N,OH,1,OW,1,C] → pad → [N,OH·sh,OW·sw,C].
    const r = s.run('Reshape', { x: dy }, { shape: [n, oh, 1, ow, 1, co] });
    const padded = s.run('PadV2', { x: r }, {
      paddings: [
        [0, 0],
        [0, 0],
        [0, p.sh - 1],
        [0, 0],
        [0, p.sw - 1],
        [0, 0],
      ],
      constantValue: 0,
    } as unknown as NamedAttrMap);
    src = s.run('Reshape', { x: padded }, { shape: [n, oh * p.sh, ow * p.sw, co] });
    dh = oh * p.sh;
    dw = ow * p.sw;
  }
  // Rows of src past (oh−1)·sh are zeros we may treat as bottom padding.
  const padTop = kh - 1 - p.top;
  const padLeft = kw - 1 - p.left;
  let padBottom = h - 1 + kh - padTop - dh; // out length = dh + top + bottom − kh + 1 = h
  let padRight = wd - 1 + kw - padLeft - dw;
  if (padTop < 0 || padLeft < 0)
    throw new Error('Conv2DBackpropInput: padding larger than the filter is not supported');
  let cropH = 0;
  let cropW = 0;
  if (padBottom < 0) {
    cropH = -padBottom;
    padBottom = 0;
  }
  if (padRight < 0) {
    cropW = -padRight;
    padRight = 0;
  }
  if (cropH || cropW) {
    src = s.run('Slice', { x: src }, { begin: [0, 0, 0, 0], size: [-1, dh - cropH, dw - cropW, -1] });
  }
  const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] });
  const wT = s.run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }); // [KH, KW, Co, Ci]
  const out = s.run('Conv2D', { x: src, filter: wT }, {
    strides: [1, 1],
    pad: [
      [0, 0],
      [padTop, padBottom],
      [padLeft, padRight],
      [0, 0],
    ],
    dilations: [1, 1],
    dataFormat: 'NHWC',
    dimRoundingMode: undefined,
  } as unknown as NamedAttrMap);
  if (out.shape[3] !== ci) throw new Error('Conv2DBackpropInput: channel mismatch');
  return s.release(out);
};

interface PhaseGeometry {
  n: number;
  h: number;
  wd: number;
  ci: number;
  kh: number;
  kw: number;
  oh: number;
  ow: number;
  top: number;
  left: number;
  sh: number;
  sw: number;
}

/** Taps and offsets of one output phase along one axis (see backpropInputByPhases). */
function phaseAxis(a: number, s: number, pad: number, k: number, inLen: number, outLen: number) {
  const r = (((a + pad) % s) + s) % s;
  const taps = Math.ceil((k - r) / s);
  if (taps <= 0) return undefined;
  const q = (a + pad - r) / s;
  const m = outLen / s;
  const padBefore = taps - 1 - q;
  const padAfter = m - inLen - padBefore + taps - 1;
  return { r, taps, padBefore, padAfter };
}

/**
 * A strided transposed convolution as s_h·s_w small stride-1 convolutions, one per output phase,
 * interleaved afterwards: output o = s·m + a only sees taps k ≡ a + pad (mod s), so
 * dx_a[m] = Σ_j dy[m + q − j]·W[r + s·j]. Avoids the (s²−1)/s² zero multiplies of dilating dy.
 */
function backpropInputByPhases(
  s: Scratch,
  dy: TensorInfo,
  filter: TensorInfo,
  g: PhaseGeometry,
): TensorInfo | undefined {
  const rows: TensorInfo[] = [];
  const wT = s.run('Transpose', { x: filter }, { perm: [0, 1, 3, 2] }); // [KH, KW, Co, Ci]
  for (let ah = 0; ah < g.sh; ah++) {
    const py = phaseAxis(ah, g.sh, g.top, g.kh, g.oh, g.h);
    if (!py || py.padBefore < 0 || py.padAfter < 0) return undefined;
    const cols: TensorInfo[] = [];
    for (let aw = 0; aw < g.sw; aw++) {
      const px = phaseAxis(aw, g.sw, g.left, g.kw, g.ow, g.wd);
      if (!px || px.padBefore < 0 || px.padAfter < 0) return undefined;
      const taps = s.run('StridedSlice', { x: wT }, {
        begin: [py.r, px.r, 0, 0],
        end: [py.r + g.sh * (py.taps - 1) + 1, px.r + g.sw * (px.taps - 1) + 1, 0, 0],
        strides: [g.sh, g.sw, 1, 1],
        beginMask: 0,
        endMask: 12,
        ellipsisMask: 0,
        newAxisMask: 0,
        shrinkAxisMask: 0,
      } as unknown as NamedAttrMap);
      const flipped = s.run('Reverse', { x: taps }, { dims: [0, 1] });
      cols.push(
        s.run('Conv2D', { x: dy, filter: flipped }, {
          strides: [1, 1],
          pad: [
            [0, 0],
            [py.padBefore, py.padAfter],
            [px.padBefore, px.padAfter],
            [0, 0],
          ],
          dilations: [1, 1],
          dataFormat: 'NHWC',
          dimRoundingMode: undefined,
        } as unknown as NamedAttrMap),
      ); // [N, H/sh, W/sw, Ci]
    }
    const packed = s.run('Pack', cols as unknown as Record<string, TensorInfo>, { axis: 3 }); // [N, H/sh, W/sw, sw, Ci]
    rows.push(s.run('Reshape', { x: packed }, { shape: [g.n, g.h / g.sh, g.wd, g.ci] }));
  }
  const packed = s.run('Pack', rows as unknown as Record<string, TensorInfo>, { axis: 2 }); // [N, H/sh, sh, W, Ci]
  return s.run('Reshape', { x: packed }, { shape: [g.n, g.h, g.wd, g.ci] });
}

/**
 * Identity without the copy. tfjs clones (Identity) every tensor a gradient saves while the tape
 * records, and the wasm backend's Identity copies the buffer; wasm buffers are never written in
 * place (Reshape already shares them), so sharing with a reference count is safe, as the cpu
 * backend does.
 */
export const identityWasm: KernelFunc = (args) => {
  const { inputs, backend } = args as unknown as KernelArgs;
  const x = inputs.x!;
  if (x.dtype === 'string') return stockKernel('Identity')(args) as TensorInfo;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
};

/** Cast to the same dtype (tf.moments casts its input to float32) shares too; others convert. */
export const castWasm: KernelFunc = (args) => {
  const { inputs, attrs } = args as unknown as KernelArgs;
  const x = inputs.x!;
  if ((attrs as { dtype?: string } | undefined)?.dtype === x.dtype && x.dtype !== 'string') return identityWasm(args);
  return stockKernel('Cast')(args) as TensorInfo;
};

const stockKernels = new Map<string, KernelFunc>();
function stockKernel(name: string): KernelFunc {
  const k = stockKernels.get(name);
  if (!k) throw new Error(`no stock wasm '${name}' kernel saved`);
  return k;
}

let kernelsRegistered = false;

/** Registers the project's wasm kernels (idempotent). Exported for the kernel tests. */
export function registerWasmTrainingKernels(): void {
  if (kernelsRegistered) return;
  kernelsRegistered = true;
  if (tf.getKernel('Conv2DBackpropInput', 'wasm')) tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2DBackpropFilterWasm });
  tf.registerKernel({ kernelName: 'Conv2DBackpropInput', backendName: 'wasm', kernelFunc: conv2DBackpropInputWasm });
  for (const [name, kernelFunc] of [
    ['Identity', identityWasm],
    ['Cast', castWasm],
  ] as const) {
    const stock = tf.getKernel(name, 'wasm');
    if (!stock) throw new Error(`wasm backend has no '${name}' kernel`);
    stockKernels.set(name, stock.kernelFunc);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
  }
}
