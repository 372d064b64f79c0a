// Reads a diffusers `unet/config.json` (UNet2DConditionModel) into the settings the IF UNet graph needs,
// refusing every value the graph would not reproduce exactly. Defaults for absent keys are diffusers
// v0.25's own, so a config written by an older diffusers (fewer keys) means what it meant there.

export type Activation = 'gelu' | 'silu' | 'relu';
export type DownBlockType = 'ResnetDownsampleBlock2D' | 'SimpleCrossAttnDownBlock2D';
export type UpBlockType = 'ResnetUpsampleBlock2D' | 'SimpleCrossAttnUpBlock2D';

export interface IfUnetConfig {
  inChannels: number;
  outChannels: number;
  centerInputSample: boolean;
  blockOutChannels: number[];
  downBlockTypes: DownBlockType[];
  upBlockTypes: UpBlockType[];
  /** Per down block (the up block mirrored from the end has one more). */
  layersPerBlock: number[];
  /** Per down block: channels per attention head. */
  attentionHeadDim: number[];
  /** Per down block: width of the (projected) text states the attention layers read. */
  crossAttentionDim: number[];
  /** Per down block. */
  onlyCrossAttention: boolean[];
  midOnlyCrossAttention: boolean;
  crossAttentionNorm: 'group_norm' | 'layer_norm' | null;
  act: Activation;
  normGroups: number;
  normEps: number;
  flipSinToCos: boolean;
  freqShift: number;
  timeEmbedDim: number;
  timeEmbeddingAct: Activation | null;
  /** Stage II: the noise level goes through the same sinusoid and its own TimestepEmbedding. */
  classEmbedTimestep: boolean;
  /** `addition_embed_type: text`: the heads of TextTimeEmbedding's attention pooling, else null. */
  textTimeHeads: number | null;
  /** Width of the T5 states fed in (encoder_hid_dim, else cross_attention_dim). */
  encoderHidDim: number | null;
  scaleShift: boolean;
  resnetSkipTimeAct: boolean;
  resnetOutScaleFactor: number;
  midBlockScaleFactor: number;
  convInKernel: number;
  convOutKernel: number;
}

export class UnetConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnetConfigError';
  }
}

const DOWN_TYPES: readonly string[] = ['ResnetDownsampleBlock2D', 'SimpleCrossAttnDownBlock2D'];
const UP_TYPES: readonly string[] = ['ResnetUpsampleBlock2D', 'SimpleCrossAttnUpBlock2D'];
const ACTS: Record<string, Activation> = { gelu: 'gelu', silu: 'silu', swish: 'silu', relu: 'relu' };

/**
 * Keys this reader knows. Those in IGNORED change nothing for the supported block types in diffusers
 * v0.25 (SimpleCrossAttn blocks never receive them), so any value runs the same there and here.
 */
const IGNORED = new Set([
  'sample_size',
  'dropout',
  'downsample_padding',
  'upcast_attention',
  'dual_cross_attention',
  'use_linear_projection',
  'transformer_layers_per_block',
  'reverse_transformer_layers_per_block',
  'attention_type',
]);
const READ = new Set([
  'in_channels',
  'out_channels',
  'center_input_sample',
  'block_out_channels',
  'down_block_types',
  'up_block_types',
  'mid_block_type',
  'layers_per_block',
  'attention_head_dim',
  'num_attention_heads',
  'cross_attention_dim',
  'only_cross_attention',
  'mid_block_only_cross_attention',
  'cross_attention_norm',
  'act_fn',
  'norm_num_groups',
  'norm_eps',
  'flip_sin_to_cos',
  'freq_shift',
  'time_embedding_type',
  'time_embedding_dim',
  'time_embedding_act_fn',
  'timestep_post_act',
  'time_cond_proj_dim',
  'class_embed_type',
  'num_class_embeds',
  'class_embeddings_concat',
  'projection_class_embeddings_input_dim',
  'addition_embed_type',
  'addition_embed_type_num_heads',
  'addition_time_embed_dim',
  'encoder_hid_dim',
  'encoder_hid_dim_type',
  'resnet_time_scale_shift',
  'resnet_skip_time_act',
  'resnet_out_scale_factor',
  'mid_block_scale_factor',
  'conv_in_kernel',
  'conv_out_kernel',
]);

function refuse(key: string, value: unknown, supported: string): never {
  throw new UnetConfigError(`unet config: ${key} = ${JSON.stringify(value)} is not supported; supported: ${supported}`);
}

export function parseUnetConfig(raw: unknown): IfUnetConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new UnetConfigError('unet config: not a JSON object');
  const c = raw as Record<string, unknown>;
  if (c._class_name !== undefined && c._class_name !== 'UNet2DConditionModel')
    refuse('_class_name', c._class_name, '"UNet2DConditionModel"');
  for (const [k, v] of Object.entries(c)) {
    if (k.startsWith('_') || READ.has(k) || IGNORED.has(k)) continue;
    if (v !== null && v !== false)
      refuse(
        k,
        v,
        'this key is unknown to the IF UNet builder (diffusers v0.25 keys only); only null/false is accepted for it',
      );
  }
  const get = (k: string, dflt: unknown): unknown => (c[k] === undefined ? dflt : c[k]);
  const int = (k: string, dflt: unknown, min = 1): number => {
    const v = get(k, dflt);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) refuse(k, v, `an integer ≥ ${min}`);
    return v;
  };
  const num = (k: string, dflt: unknown): number => {
    const v = get(k, dflt);
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) refuse(k, v, 'a positive number');
    return v;
  };
  const bool = (k: string, dflt: boolean): boolean => {
    const v = get(k, dflt);
    if (typeof v !== 'boolean') refuse(k, v, 'true or false');
    return v;
  };
  const nullOnly = (k: string): void => {
    const v = get(k, null);
    if (v !== null) refuse(k, v, 'null (IF does not use it)');
  };
  const act = (k: string, dflt: string | null, allowNull: boolean): Activation | null => {
    const v = get(k, dflt);
    if (v === null && allowNull) return null;
    const a = typeof v === 'string' ? ACTS[v] : undefined;
    if (!a) refuse(k, v, `${allowNull ? 'null, ' : ''}"gelu", "silu", "swish", "relu"`);
    return a;
  };

  const boc = get('block_out_channels', [320, 640, 1280, 1280]);
  if (!Array.isArray(boc) || boc.length < 1 || !boc.every((x) => Number.isInteger(x) && x > 0))
    refuse('block_out_channels', boc, 'a non-empty list of positive integers');
  const n = boc.length;
  const downs = get('down_block_types', undefined);
  if (!Array.isArray(downs) || downs.length !== n)
    refuse('down_block_types', downs, `a list of ${n} block types (one per block_out_channels entry)`);
  for (const t of downs)
    if (!DOWN_TYPES.includes(t as string))
      refuse('down_block_types', downs, DOWN_TYPES.map((x) => `"${x}"`).join(', '));
  const ups = get('up_block_types', undefined);
  if (!Array.isArray(ups) || ups.length !== n) refuse('up_block_types', ups, `a list of ${n} block types`);
  for (const t of ups)
    if (!UP_TYPES.includes(t as string)) refuse('up_block_types', ups, UP_TYPES.map((x) => `"${x}"`).join(', '));
  const mid = get('mid_block_type', 'UNetMidBlock2DCrossAttn');
  if (mid !== 'UNetMidBlock2DSimpleCrossAttn') refuse('mid_block_type', mid, '"UNetMidBlock2DSimpleCrossAttn"');

  const perBlock = (k: string, dflt: unknown, check: (x: unknown) => boolean, what: string): unknown[] => {
    const v = get(k, dflt);
    const list = Array.isArray(v) ? v : Array.from({ length: n }, () => v);
    if (list.length !== n || !list.every(check)) refuse(k, v, `${what}, or a list of ${n} of them`);
    return list;
  };
  const posInt = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x > 0;
  const layersPerBlock = perBlock('layers_per_block', 2, posInt, 'a positive integer') as number[];
  nullOnly('num_attention_heads');
  const attentionHeadDim = perBlock('attention_head_dim', 8, posInt, 'a positive integer') as number[];
  const crossAttentionDim = perBlock('cross_attention_dim', 1280, posInt, 'a positive integer') as number[];
  const oca = get('only_cross_attention', false);
  const onlyCrossAttention = perBlock(
    'only_cross_attention',
    false,
    (x) => typeof x === 'boolean',
    'true or false',
  ) as boolean[];
  const midOca = get('mid_block_only_cross_attention', null);
  if (midOca !== null && typeof midOca !== 'boolean')
    refuse('mid_block_only_cross_attention', midOca, 'null, true or false');
  // diffusers: an unset mid value follows a single boolean only_cross_attention, else false.
  const midOnlyCrossAttention = midOca ?? (typeof oca === 'boolean' ? oca : false);

  const can = get('cross_attention_norm', null);
  if (can !== null && can !== 'group_norm' && can !== 'layer_norm')
    refuse('cross_attention_norm', can, 'null, "group_norm", "layer_norm"');

  const tet = get('time_embedding_type', 'positional');
  if (tet !== 'positional') refuse('time_embedding_type', tet, '"positional"');
  nullOnly('timestep_post_act');
  nullOnly('time_cond_proj_dim');
  nullOnly('num_class_embeds');
  nullOnly('projection_class_embeddings_input_dim');
  nullOnly('addition_time_embed_dim');
  const cet = get('class_embed_type', null);
  if (cet !== null && cet !== 'timestep') refuse('class_embed_type', cet, 'null, "timestep"');
  if (bool('class_embeddings_concat', false)) refuse('class_embeddings_concat', true, 'false');
  const aet = get('addition_embed_type', null);
  if (aet !== null && aet !== 'text') refuse('addition_embed_type', aet, 'null, "text"');
  const ehd = get('encoder_hid_dim', null);
  if (ehd !== null && !posInt(ehd)) refuse('encoder_hid_dim', ehd, 'null or a positive integer');
  const ehdt = get('encoder_hid_dim_type', null);
  if (ehdt !== null && ehdt !== 'text_proj') refuse('encoder_hid_dim_type', ehdt, 'null, "text_proj"');
  if (ehdt === 'text_proj' && ehd === null)
    refuse('encoder_hid_dim', ehd, 'a positive integer when encoder_hid_dim_type is "text_proj"');
  const rts = get('resnet_time_scale_shift', 'default');
  if (rts !== 'default' && rts !== 'scale_shift') refuse('resnet_time_scale_shift', rts, '"default", "scale_shift"');
  const normGroups = int('norm_num_groups', 32);
  const convInKernel = int('conv_in_kernel', 3);
  const convOutKernel = int('conv_out_kernel', 3);
  if (convInKernel % 2 === 0) refuse('conv_in_kernel', convInKernel, 'an odd integer');
  if (convOutKernel % 2 === 0) refuse('conv_out_kernel', convOutKernel, 'an odd integer');
  const freqShift = get('freq_shift', 0);
  if (typeof freqShift !== 'number' || !Number.isFinite(freqShift)) refuse('freq_shift', freqShift, 'a number');

  const cfg: IfUnetConfig = {
    inChannels: int('in_channels', 4),
    outChannels: int('out_channels', 4),
    centerInputSample: bool('center_input_sample', false),
    blockOutChannels: boc as number[],
    downBlockTypes: downs as DownBlockType[],
    upBlockTypes: ups as UpBlockType[],
    layersPerBlock,
    attentionHeadDim,
    crossAttentionDim,
    onlyCrossAttention,
    midOnlyCrossAttention,
    crossAttentionNorm: can as IfUnetConfig['crossAttentionNorm'],
    act: act('act_fn', 'silu', false)!,
    normGroups,
    normEps: num('norm_eps', 1e-5),
    flipSinToCos: bool('flip_sin_to_cos', true),
    freqShift,
    timeEmbedDim: get('time_embedding_dim', null) === null ? (boc[0] as number) * 4 : int('time_embedding_dim', null),
    timeEmbeddingAct: act('time_embedding_act_fn', null, true),
    classEmbedTimestep: cet === 'timestep',
    textTimeHeads: aet === 'text' ? int('addition_embed_type_num_heads', 64) : null,
    encoderHidDim: ehd as number | null,
    scaleShift: rts === 'scale_shift',
    resnetSkipTimeAct: bool('resnet_skip_time_act', false),
    resnetOutScaleFactor: num('resnet_out_scale_factor', 1.0),
    midBlockScaleFactor: num('mid_block_scale_factor', 1),
    convInKernel,
    convOutKernel,
  };
  for (let i = 0; i < n; i++) {
    if (cfg.blockOutChannels[i]! % normGroups !== 0)
      refuse('block_out_channels', boc, `multiples of norm_num_groups (${normGroups})`);
  }
  if (cfg.encoderHidDim !== null && new Set(cfg.crossAttentionDim).size > 1) {
    refuse(
      'cross_attention_dim',
      cfg.crossAttentionDim,
      'one width for all blocks when encoder_hid_dim projects the text states',
    );
  }
  const textDim = cfg.encoderHidDim ?? cfg.crossAttentionDim[n - 1]!;
  if (cfg.textTimeHeads !== null && textDim % cfg.textTimeHeads !== 0) {
    refuse('addition_embed_type_num_heads', cfg.textTimeHeads, `a divisor of the text width ${textDim}`);
  }
  return cfg;
}

/** Width of the encoder_hidden_states the UNet takes (before encoder_hid_proj). */
export function textInputDim(cfg: IfUnetConfig): number {
  return cfg.encoderHidDim ?? cfg.crossAttentionDim[cfg.crossAttentionDim.length - 1]!;
}
