// A small typed builder for ONNX models on the `onnx-proto` messages (opset 20), so the project writes
// its own models from TypeScript: the MNIST UNet export and the tiny DeepFloyd-shaped test fixtures.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type ElementType = 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';
export const ELEMENT_TYPES: readonly ElementType[] = [
  'float32',
  'float16',
  'float64',
  'int64',
  'int32',
  'int8',
  'uint8',
  'bool',
];

const DATA_TYPE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
  bool: onnx.TensorProto.DataType.BOOL,
};

export function onnxDataType(type: ElementType): number {
  const v = DATA_TYPE[type];
  if (v === undefined) throw new RangeError(`unknown element type "${type}"; allowed: ${ELEMENT_TYPES.join(', ')}`);
  return v;
}

const ELEMENT_BYTES: Record<ElementType, number> = {
  float32: 4,
  float16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Where an initializer's raw little-endian bytes lie in a file beside the model. */
export interface ExternalData {
  location: string;
  offset: number;
  length: number;
}

/** Typed arrays the builder stores as raw little-endian bytes; Uint16Array means float16. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int8Array
  | Uint8Array;

function inferType(data: TensorData): ElementType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Uint16Array) return 'float16';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int8Array) return 'int8';
  return 'uint8';
}

/** A dimension: a size, or a symbolic name / −1 for a dynamic one (batch). */
export type Dim = number | string;

type AttrValue = number | number[] | string | string[] | TypedAttr;

/** Attributes whose ONNX type cannot be told from a JS number (1 as FLOAT, [1, 2] as FLOATS), or tensors. */
export class TypedAttr {
  constructor(
    readonly kind: 'float' | 'floats' | 'tensor',
    readonly value: number | number[] | TensorValue,
  ) {}
}

export interface TensorValue {
  data: TensorData;
  dims: number[];
  type?: ElementType;
}

export const attr = {
  float: (v: number): TypedAttr => new TypedAttr('float', v),
  floats: (v: number[]): TypedAttr => new TypedAttr('floats', v),
  tensor: (data: TensorData, dims: number[], type?: ElementType): TypedAttr =>
    new TypedAttr('tensor', type === undefined ? { data, dims } : { data, dims, type }),
};

function tensorProto(name: string, t: TensorValue): onnxProto.onnx.ITensorProto {
  const type = t.type ?? inferType(t.data);
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count !== t.data.length)
    throw new RangeError(
      `tensor "${name}" has dims [${t.dims.join(', ')}] (${count} values) but ${t.data.length} values`,
    );
  // ONNX raw_data is little-endian, as typed arrays are on every platform Node ships for.
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
  return { name, dims: t.dims, dataType: onnxDataType(type), rawData: bytes };
}

function attributeProto(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (v instanceof TypedAttr) {
    if (v.kind === 'float') return { name, type: T.FLOAT, f: v.value as number };
    if (v.kind === 'floats') return { name, type: T.FLOATS, floats: v.value as number[] };
    return { name, type: T.TENSOR, t: tensorProto(name, v.value as TensorValue) };
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  if (v.every((x): x is string => typeof x === 'string'))
    return { name, type: T.STRINGS, strings: v.map((s) => new TextEncoder().encode(s)) };
  const nums = v as number[];
  return nums.every(Number.isInteger) ? { name, type: T.INTS, ints: nums } : { name, type: T.FLOATS, floats: nums };
}

function valueInfo(name: string, type: ElementType, dims: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnxDataType(type),
        shape: {
          dim: dims.map((d, i) =>
            typeof d === 'string' ? { dimParam: d } : d < 0 ? { dimParam: `d${i}` } : { dimValue: d },
          ),
        },
      },
    },
  };
}

export interface GraphBuilderOptions {
  opset?: number;
  producer?: string;
}

/**
 * @example
 * const g = new GraphBuilder('tiny');
 * g.input('x', 'float32', ['batch', 1, 28, 28]);
 * g.initializer('w', new Float32Array(9).fill(1 / 9), [1, 1, 3, 3]);
 * g.node('Conv', ['x', 'w'], ['y'], { pads: [1, 1, 1, 1] });
 * g.output('y', 'float32', ['batch', 1, 28, 28]);
 * const bytes = g.toBytes();
 */
export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly inits: onnxProto.onnx.ITensorProto[] = [];
  private readonly names = new Set<string>();
  private counter = 0;
  readonly opset: number;
  readonly producer: string;

  constructor(
    readonly name: string,
    opts: GraphBuilderOptions = {},
  ) {
    this.opset = opts.opset ?? 20;
    this.producer = opts.producer ?? 'illusionist';
  }

  /** A value name not used yet, for intermediate results. */
  fresh(prefix = 'v'): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`;
    while (this.names.has(n));
    return n;
  }

  private claim(name: string, what: string): void {
    if (this.names.has(name) && what !== 'output')
      throw new RangeError(`${what} name "${name}" is already used in graph "${this.name}"`);
    this.names.add(name);
  }

  input(name: string, type: ElementType, dims: readonly Dim[]): string {
    this.claim(name, 'input');
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares a graph output (a value some node produces). */
  output(name: string, type: ElementType, dims: readonly Dim[]): string {
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** A constant weight; Uint16Array data is float16, other arrays map to their natural type. */
  initializer(name: string, data: TensorData, dims: number[], type?: ElementType): string {
    this.claim(name, 'initializer');
    this.inits.push(tensorProto(name, type === undefined ? { data, dims } : { data, dims, type }));
    return name;
  }

  /**
   * A constant whose bytes stay in another file (ONNX external data): `location` is relative to the
   * model's folder, `offset`/`length` in bytes. Lets a graph use a safetensors file's tensors in place.
   */
  externalInitializer(name: string, type: ElementType, dims: number[], ext: ExternalData): string {
    this.claim(name, 'initializer');
    if (!Number.isSafeInteger(ext.offset) || ext.offset < 0 || !Number.isSafeInteger(ext.length) || ext.length < 0) {
      throw new RangeError(
        `external initializer "${name}": offset ${ext.offset} and length ${ext.length} must be whole numbers of bytes, not negative`,
      );
    }
    const count = dims.reduce((a, b) => a * b, 1);
    const want = count * ELEMENT_BYTES[type];
    if (want !== ext.length)
      throw new RangeError(
        `external initializer "${name}" has dims [${dims.join(', ')}] of ${type} (${want} bytes) but ${ext.length} bytes in ${ext.location}`,
      );
    this.inits.push({
      name,
      dims,
      dataType: onnxDataType(type),
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: ext.location },
        { key: 'offset', value: String(ext.offset) },
        { key: 'length', value: String(ext.length) },
      ],
    });
    return name;
  }

  /** Adds a node; integer numbers become INT(S) attributes, others FLOAT(S); use `attr.float` to force. */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attrs: Record<string, AttrValue> = {},
    opts: { name?: string; domain?: string } = {},
  ): string[] {
    for (const o of outputs) this.claim(o, 'node output');
    this.nodes.push({
      opType,
      input: [...inputs],
      output: [...outputs],
      name: opts.name ?? `${opType}_${this.nodes.length}`,
      domain: opts.domain ?? '',
      attribute: Object.entries(attrs).map(([k, v]) => attributeProto(k, v)),
    });
    return [...outputs];
  }

  /** One-output node with a fresh output name; returns it (for chaining). */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}): string {
    return this.node(opType, inputs, [this.fresh(opType.toLowerCase())], attrs)[0]!;
  }

  toModel(): onnxProto.onnx.ModelProto {
    return onnx.ModelProto.create({
      // IR 9 is the first to carry opset 20 (onnx 1.15); onnx-proto's enum stops at 8 but the field is an int.
      irVersion: this.opset >= 19 ? 9 : 8,
      producerName: this.producer,
      opsetImport: [{ domain: '', version: this.opset }],
      graph: { name: this.name, node: this.nodes, input: this.inputs, output: this.outputs, initializer: this.inits },
    });
  }

  toBytes(): Uint8Array {
    return onnx.ModelProto.encode(this.toModel()).finish();
  }
}
