// The names of the exported UNet's inputs and output, apart from the exporter (and its protobuf
// library), which a model loaded from a cached export never needs.
export const FLOW_INPUTS = { x: 'x', t: 't', c: 'c' } as const;
export const FLOW_OUTPUT = 'u';
