// Types for gifenc 1.0.3, which ships none: only the parts the GIF encoder uses.
// It is CommonJS, so import its default (module.exports) and read the functions off it.
declare module 'gifenc' {
  namespace gifenc {
    type Color = [r: number, g: number, b: number] | [r: number, g: number, b: number, a: number];
    type Palette = Color[];
    type Format = 'rgb565' | 'rgb444' | 'rgba4444';

    interface FrameOptions {
      palette?: Palette;
      /** Frame delay in milliseconds (stored in GIF centiseconds). */
      delay?: number;
      /** -1 play once, 0 loop forever, n repeat n times; read from the first frame only. */
      repeat?: number;
      transparent?: boolean;
      transparentIndex?: number;
      dispose?: number;
      first?: boolean;
    }

    interface Encoder {
      writeFrame(index: Uint8Array, width: number, height: number, opts?: FrameOptions): void;
      finish(): void;
      /** A copy of the encoded bytes. */
      bytes(): Uint8Array;
      bytesView(): Uint8Array;
      reset(): void;
    }

    /** rgba: RGBA bytes whose buffer starts at offset 0 (it is read as a Uint32Array). */
    function quantize(rgba: Uint8Array, maxColors: number, opts?: { format?: Format }): Palette;
    function applyPalette(rgba: Uint8Array, palette: Palette, format?: Format): Uint8Array;
    function GIFEncoder(opts?: { initialCapacity?: number; auto?: boolean }): Encoder;
  }
  export = gifenc;
}
