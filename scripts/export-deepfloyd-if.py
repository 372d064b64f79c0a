#!/usr/bin/env python3
# Exports DeepFloyd IF (stage I UNet, stage II UNet, T5 v1.1 XXL encoder, tokenizer) to the ONNX folder
# that src/engine/denoisers/deepfloyd-if.ts loads. Run once by an operator; it cannot run in CI.
"""
Requirements: a CUDA GPU (24 GB for IF-I-XL in fp16; the T5 export runs on CPU if the GPU is too small),
Python 3.10+, `pip install torch diffusers transformers accelerate sentencepiece onnx`, and the DeepFloyd
licence accepted on Hugging Face for every model id used, then `huggingface-cli login`.

The weights are for non-commercial research only (DeepFloyd IF licence); do not redistribute the export.

Writes OUT/ (default models/deepfloyd-if/), each large model with its weights beside it:
  tokenizer.json                 T5 tokenizer (fast); the engine pads/truncates to 77 keeping </s>
  text-encoder.onnx(+.data)      input_ids [B,77] int64, attention_mask [B,77] int64
                                 -> last_hidden_state [B,77,4096]; always fp32 (T5 overflows in fp16)
  stage1-unet.onnx(+.data)       sample [B,3,64,64], timestep [B] int64, encoder_hidden_states [B,77,4096]
                                 -> noise_pred [B,6,64,64] (epsilon then learned-range variance values)
  stage2-unet.onnx(+.data)       sample [B,6,256,256] (noisy image + noise-augmented upscale), timestep [B]
                                 int64, encoder_hidden_states [B,77,4096], class_labels [B] int64 (noise level)
                                 -> noise_pred [B,6,256,256]
  export-info.json               model ids, dtype, versions
UNet floats are fp16 with --dtype float16 (default) or fp32 with --dtype float32; the engine reads the
dtype from the model inputs. Disk: about 9 GB (IF-I-XL fp16) + 2.5 GB (IF-II-L fp16) + 19 GB (T5 fp32).

Example:
  python scripts/export-deepfloyd-if.py --out models/deepfloyd-if \
      --stage1 DeepFloyd/IF-I-XL-v1.0 --stage2 DeepFloyd/IF-II-L-v1.0 --dtype float16
Smaller: --stage1 DeepFloyd/IF-I-M-v1.0 --stage2 DeepFloyd/IF-II-M-v1.0. Skip stage II with --no-stage2.
"""
import argparse
import json
import os
import tempfile

import onnx
import torch
from diffusers import UNet2DConditionModel
from transformers import T5EncoderModel, T5TokenizerFast

TEXT_LENGTH = 77


class UNetForOnnx(torch.nn.Module):
    """Positional inputs and a plain tensor output, as torch.onnx.export needs."""

    def __init__(self, unet, with_class_labels):
        super().__init__()
        self.unet = unet
        self.with_class_labels = with_class_labels

    def forward(self, sample, timestep, encoder_hidden_states, class_labels=None):
        kwargs = {"class_labels": class_labels} if self.with_class_labels else {}
        return self.unet(sample, timestep, encoder_hidden_states, return_dict=False, **kwargs)[0]


class T5ForOnnx(torch.nn.Module):
    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask):
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def export(module, args, path, input_names, output_name, opset):
    """Exports to a scratch folder, then saves one .onnx with all weights in one .onnx.data beside it."""
    dynamic = {name: {0: "batch"} for name in input_names}
    dynamic[output_name] = {0: "batch"}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = os.path.join(tmp, "model.onnx")
        with torch.no_grad():
            torch.onnx.export(module, args, scratch, input_names=input_names, output_names=[output_name],
                              dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True)
        model = onnx.load(scratch, load_external_data=True)
        data = os.path.basename(path) + ".data"
        for stale in (path, os.path.join(os.path.dirname(path), data)):
            if os.path.exists(stale):
                os.remove(stale)
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data, size_threshold=1024)
    print(f"wrote {path}")


def export_unet(model_id, path, dtype, device, stage2, opset):
    unet = UNet2DConditionModel.from_pretrained(model_id, subfolder="unet", variant="fp16",
                                                torch_dtype=torch.float16).to(device=device, dtype=dtype).eval()
    size, channels = (256, 6) if stage2 else (64, 3)
    sample = torch.randn(2, channels, size, size, dtype=dtype, device=device)
    timestep = torch.tensor([999, 500], dtype=torch.int64, device=device)
    states = torch.randn(2, TEXT_LENGTH, 4096, dtype=dtype, device=device)
    names = ["sample", "timestep", "encoder_hidden_states"]
    inputs = (sample, timestep, states)
    if stage2:
        names.append("class_labels")
        inputs = inputs + (torch.tensor([250, 250], dtype=torch.int64, device=device),)
    export(UNetForOnnx(unet, stage2), inputs, path, names, "noise_pred", opset)
    del unet
    torch.cuda.empty_cache()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="models/deepfloyd-if")
    p.add_argument("--stage1", default="DeepFloyd/IF-I-XL-v1.0")
    p.add_argument("--stage2", default="DeepFloyd/IF-II-L-v1.0")
    p.add_argument("--no-stage2", action="store_true")
    p.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset of torch's exporter (onnxruntime runs any >= 14)")
    p.add_argument("--t5-device", default=None, help="device for the T5 export (default: cuda if it fits, else cpu)")
    args = p.parse_args()

    os.makedirs(args.out, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.float16 if args.dtype == "float16" else torch.float32
    if device == "cpu" and dtype == torch.float16:
        raise SystemExit("fp16 export needs a CUDA GPU (CPU kernels lack fp16); use --dtype float32 on CPU")

    # 1. Tokenizer: the fast tokenizer's tokenizer.json is what @huggingface/tokenizers reads.
    tok = T5TokenizerFast.from_pretrained(args.stage1, subfolder="tokenizer")
    tok.backend_tokenizer.save(os.path.join(args.out, "tokenizer.json"))

    # 2. T5 encoder, fp32 (fp16 T5 overflows to inf/NaN on some prompts).
    t5_device = args.t5_device or ("cuda" if device == "cuda" and torch.cuda.get_device_properties(0).total_memory > 40e9 else "cpu")
    t5 = T5EncoderModel.from_pretrained(args.stage1, subfolder="text_encoder", variant="fp16",
                                        torch_dtype=torch.float16).to(device=t5_device, dtype=torch.float32).eval()
    ids = tok(["a high quality photo", ""], padding="max_length", max_length=TEXT_LENGTH, truncation=True,
              return_tensors="pt")
    export(T5ForOnnx(t5), (ids.input_ids.to(t5_device), ids.attention_mask.to(t5_device)),
           os.path.join(args.out, "text-encoder.onnx"), ["input_ids", "attention_mask"], "last_hidden_state", args.opset)
    del t5
    torch.cuda.empty_cache()

    # 3. UNets.
    export_unet(args.stage1, os.path.join(args.out, "stage1-unet.onnx"), dtype, device, False, args.opset)
    if not args.no_stage2:
        export_unet(args.stage2, os.path.join(args.out, "stage2-unet.onnx"), dtype, device, True, args.opset)

    import diffusers
    import transformers
    info = {"stage1": args.stage1, "stage2": None if args.no_stage2 else args.stage2, "dtype": args.dtype,
            "text_encoder_dtype": "float32", "opset": args.opset, "torch": torch.__version__,
            "diffusers": diffusers.__version__, "transformers": transformers.__version__,
            "licence": "DeepFloyd IF licence: non-commercial research only; not redistributable"}
    with open(os.path.join(args.out, "export-info.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(f"done: {args.out}")


if __name__ == "__main__":
    main()
