// sharp (libvips), loaded with the first image rather than at import: a process reaches its first
// sampler step without it (importing it took 0.4 s on the loaded 2-core machine).
import type sharpModule from 'sharp';

export type SharpFactory = typeof sharpModule;

let loading: Promise<SharpFactory> | undefined;

export function loadSharp(): Promise<SharpFactory> {
  loading ??= import('sharp').then((m) => m.default);
  return loading;
}
