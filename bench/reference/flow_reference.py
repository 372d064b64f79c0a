#!/usr/bin/env python3
"""A plain PyTorch implementation of the write-up's Part B (fun-with-diffusion-models.txt), written
the way a student following it would: the time- and class-conditioned UNets of B.1.1 / B.2.1 /
B.2.4, an Adam training step, and the Euler sampler with classifier-free guidance (Algorithm B.4).
`npm run bench -- part-b` runs it beside the project to give every figure as a ratio.

The module layout follows the project's parameter names (src/engine/flow/unet.ts) so the committed
checkpoint (models/mnist-class/model.safetensors) loads as is: the convolutions have no bias because
BatchNorm follows each one (it would cancel it).

  flow_reference.py train  [--hidden 64] [--batch 64] [--steps 3]
  flow_reference.py digits --weights FILE --out DIR [--digits 40] [--steps 50] [--guidance 5] [--noise FILE]
  flow_reference.py check  --weights FILE --input FILE --output FILE

`digits` is a whole run as a user starts it: load the model, sample, write DIR/grid.png and the raw
samples DIR/samples.f32; it says on stderr when the first sampler step begins and reports the
sampling time alone. `check` computes u for the inputs in FILE (the count n, then x, t and classes).
Each prints one JSON line on stdout. Binary files are raw little-endian float32 (int32 for classes).
"""
import argparse
import json
import os
import struct
import sys
import time
import zlib

# Debian's torch calls the system BLAS (libblas.so.3) for transposed convolutions and every conv
# gradient; OpenBLAS does not follow torch.set_num_threads, so its pool is sized here, before import.
_threads = sys.argv[sys.argv.index('--threads') + 1] if '--threads' in sys.argv else '2'
os.environ.setdefault('OPENBLAS_NUM_THREADS', _threads)

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NUM_CLASSES = 10


# --- the UNet's atomic operations (B.1.1) ---

class Conv(nn.Module):
    """Conv2d 3×3 (stride 1, or 2 to go down), BatchNorm, GELU."""
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.gelu(self.bn(self.conv(x)))


class ConvT(nn.Module):
    """ConvTranspose2d, BatchNorm, GELU: UpConv (4, 2, 1) and Unflatten (7, 7, 0)."""
    def __init__(self, cin, cout, k, stride, pad):
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, k, stride, pad, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.gelu(self.bn(self.conv(x)))


class ConvBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.a = Conv(cin, cout)
        self.b = Conv(cout, cout)

    def forward(self, x):
        return self.b(self.a(x))


class DownBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.down = Conv(cin, cout, stride=2)
        self.a = Conv(cout, cout)
        self.b = Conv(cout, cout)

    def forward(self, x):
        return self.b(self.a(self.down(x)))


class UpBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = ConvT(cin, cout, 4, 2, 1)
        self.a = Conv(cout, cout)
        self.b = Conv(cout, cout)

    def forward(self, x):
        return self.b(self.a(self.up(x)))


class FCBlock(nn.Module):
    """Linear, GELU, Linear (B.2.1)."""
    def __init__(self, cin, cout):
        super().__init__()
        self.l1 = nn.Linear(cin, cout)
        self.l2 = nn.Linear(cout, cout)

    def forward(self, x):
        return self.l2(F.gelu(self.l1(x)))


class UNet(nn.Module):
    """u(x, t, c): the class-conditioned UNet (B.2.4); kind 'time' leaves out c (B.2.1)."""
    def __init__(self, hidden, kind='class'):
        super().__init__()
        D = hidden
        self.kind = kind
        self.conv0 = ConvBlock(1, D)
        self.down1 = DownBlock(D, D)
        self.down2 = DownBlock(D, 2 * D)
        self.unflatten = ConvT(2 * D, 2 * D, 7, 7, 0)
        self.up1 = UpBlock(4 * D, D)
        self.up2 = UpBlock(2 * D, D)
        self.out = ConvBlock(2 * D, D)
        self.final = nn.Conv2d(D, 1, 3, 1, 1)
        self.fc1_t = FCBlock(1, 2 * D)
        self.fc2_t = FCBlock(1, D)
        if kind == 'class':
            self.fc1_c = FCBlock(NUM_CLASSES, 2 * D)
            self.fc2_c = FCBlock(NUM_CLASSES, D)

    def forward(self, x, t, c=None):
        conv0 = self.conv0(x)
        down1 = self.down1(conv0)
        down2 = self.down2(down1)
        flat = F.gelu(F.avg_pool2d(down2, 7))  # Flatten: AvgPool 7×7, GELU
        unflatten = self.unflatten(flat)
        t1 = self.fc1_t(t)[:, :, None, None]
        t2 = self.fc2_t(t)[:, :, None, None]
        if self.kind == 'class':
            c1 = self.fc1_c(c)[:, :, None, None]
            c2 = self.fc2_c(c)[:, :, None, None]
            unflatten = c1 * unflatten + t1
        else:
            unflatten = unflatten * t1
        up1 = self.up1(torch.cat([unflatten, down2], dim=1))
        up1 = c2 * up1 + t2 if self.kind == 'class' else up1 * t2
        up2 = self.up2(torch.cat([up1, down1], dim=1))
        out = self.out(torch.cat([up2, conv0], dim=1))
        return self.final(out)


# --- the project's checkpoint, read by hand (safetensors: u64 header length, JSON header, data) ---

def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop('__metadata__', {})
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        if e['dtype'] != 'F32':
            raise ValueError(f'{path}: tensor {name} has dtype {e["dtype"]}; only F32 is read')
        start, end = e['data_offsets']
        tensors[name] = np.frombuffer(data, dtype='<f4', count=(end - start) // 4, offset=base + start).reshape(e['shape'])
    return tensors, meta


def load_project_checkpoint(path):
    """A UNet with the checkpoint's serving weights (its EMA average where it has one)."""
    tensors, meta = read_safetensors(path)
    spec = json.loads(meta['spec'])
    model = UNet(spec['hidden'], spec['kind'])
    weights = {k: v for k, v in tensors.items() if not k.startswith('adam.') and not k.startswith('ema/')}
    weights.update({k[len('ema/'):]: v for k, v in tensors.items() if k.startswith('ema/')})
    state = {}
    for name, w in weights.items():
        w = torch.from_numpy(w.copy())
        layer, _, what = name.rpartition('.')
        if name in ('final.w', 'final.b'):
            state['final.weight' if what == 'w' else 'final.bias'] = w.permute(3, 2, 0, 1) if what == 'w' else w
        elif '.l1.' in name or '.l2.' in name:  # Linear: [in, out] -> [out, in]
            state[f'{layer}.{"weight" if what == "w" else "bias"}'] = w.t() if what == 'w' else w
        elif what == 'w':
            # conv [kh, kw, cin, cout] -> [cout, cin, kh, kw]; transposed conv [kh, kw, cout, cin] -> [cin, cout, kh, kw]
            state[f'{layer}.conv.weight'] = w.permute(3, 2, 0, 1)
        else:
            state[f'{layer}.bn.{ {"gamma": "weight", "beta": "bias", "mean": "running_mean", "var": "running_var"}[what] }'] = w
    model.load_state_dict(state, strict=False)
    missing = [k for k in model.state_dict() if k not in state and not k.endswith('num_batches_tracked')]
    if missing:
        raise ValueError(f'{path}: no tensor for {missing[:3]}')
    return model.eval(), spec


def one_hot(classes):
    """classes 0-9, or -1 for the null class (all zeros)."""
    c = torch.zeros(len(classes), NUM_CLASSES)
    for i, k in enumerate(classes):
        if k >= 0:
            c[i, k] = 1
    return c


# --- Euler sampling with CFG (Algorithm B.4) ---

@torch.no_grad()
def sample(model, labels, steps, guidance, x0, on_step=None):
    x = x0.clone()
    n = len(labels)
    c = one_hot(labels)
    null = torch.zeros_like(c)
    for i in range(steps):
        if i == 0 and on_step:
            on_step()
        t = torch.full((n, 1), i / steps)
        u_cond = model(x, t, c)
        u_uncond = model(x, t, null)
        u = u_uncond + guidance * (u_cond - u_uncond)
        x = x + u / steps
    return x


def read_f32(path, count):
    return np.fromfile(path, dtype='<f4', count=count)


def cmd_train(a):
    model = UNet(a.hidden, 'class').train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    B = a.batch
    x = torch.randn(B, 1, 28, 28, generator=g)
    target = torch.randn(B, 1, 28, 28, generator=g)
    t = torch.rand(B, 1, generator=g)
    c = one_hot([i % 10 for i in range(B)])

    def step():
        opt.zero_grad()
        loss = F.mse_loss(model(x, t, c), target)
        loss.backward()
        opt.step()
        return loss.item()

    step()  # warm-up, as the project's bench does: allocations and Adam's slots
    started = time.perf_counter()
    for _ in range(a.steps):
        step()
    seconds = time.perf_counter() - started
    return {'hidden': a.hidden, 'batch': B, 'steps': a.steps, 'seconds': seconds, 'images_per_second': a.steps * B / seconds}


def labels_of(n):
    return [i % 10 for i in range(n)]


def noise_of(a, n):
    if a.noise:
        return torch.from_numpy(read_f32(a.noise, n * 784).copy()).reshape(n, 1, 28, 28)
    return torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def cmd_check(a):
    model, spec = load_project_checkpoint(a.weights)
    raw = np.fromfile(a.input, dtype='<f4')
    n = int(raw[0])
    x = torch.from_numpy(raw[1:1 + n * 784].copy()).reshape(n, 1, 28, 28)
    t = torch.from_numpy(raw[1 + n * 784:1 + n * 785].copy()).reshape(n, 1)
    classes = np.fromfile(a.input, dtype='<i4')[1 + n * 785:1 + n * 786].tolist()
    with torch.no_grad():
        u = model(x, t, one_hot(classes))
    u.numpy().astype('<f4').tofile(a.output)
    return {'hidden': spec['hidden'], 'batch': n}


def write_png(path, gray):
    """An 8-bit grayscale PNG, written with zlib (no imaging library needed)."""
    h, w = gray.shape
    rows = b''.join(b'\x00' + gray[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body) & 0xffffffff)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b''))


def cmd_digits(a):
    """What a user of the reference runs: load the model, sample, save a 10-column grid."""
    model, spec = load_project_checkpoint(a.weights)
    labels = labels_of(a.digits)
    x0 = noise_of(a, a.digits)
    started = []
    def first_step():
        print('reference timing: first sampler step', file=sys.stderr, flush=True)
        started.append(time.perf_counter())
    x = sample(model, labels, a.steps, a.guidance, x0, on_step=first_step)
    sample_seconds = time.perf_counter() - started[0]
    img = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()[:, 0]  # the model's pixels are in [-1, 1]
    rows = (a.digits + 9) // 10
    grid = np.zeros((rows * 28, 10 * 28), dtype=np.uint8)
    for i in range(a.digits):
        grid[(i // 10) * 28:(i // 10 + 1) * 28, (i % 10) * 28:(i % 10 + 1) * 28] = img[i]
    os.makedirs(a.out, exist_ok=True)
    write_png(os.path.join(a.out, 'grid.png'), grid)
    x.numpy().astype('<f4').tofile(os.path.join(a.out, 'samples.f32'))
    return {'hidden': spec['hidden'], 'digits': a.digits, 'steps': a.steps, 'guidance': a.guidance, 'sample_seconds': sample_seconds, 'out': a.out}


def blas_library():
    """The BLAS this process loaded: Debian's reference libblas is several times slower than OpenBLAS."""
    with open('/proc/self/maps') as f:
        paths = {line.split()[-1] for line in f if 'blas' in line.lower() and '/' in line}
    return sorted(paths)[0] if paths else 'none'


def main():
    p = argparse.ArgumentParser(description='PyTorch reference of the Part B flow-matching UNet')
    p.add_argument('--threads', type=int, default=2)
    sub = p.add_subparsers(dest='cmd', required=True)
    tr = sub.add_parser('train')
    tr.add_argument('--hidden', type=int, default=64)
    tr.add_argument('--batch', type=int, default=64)
    tr.add_argument('--steps', type=int, default=3)
    s = sub.add_parser('digits')
    s.add_argument('--weights', required=True)
    s.add_argument('--digits', type=int, default=40)
    s.add_argument('--steps', type=int, default=50)
    s.add_argument('--guidance', type=float, default=5.0)
    s.add_argument('--noise')
    s.add_argument('--out', required=True)
    ck = sub.add_parser('check')
    ck.add_argument('--weights', required=True)
    ck.add_argument('--input', required=True)
    ck.add_argument('--output', required=True)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    result = {'train': cmd_train, 'check': cmd_check, 'digits': cmd_digits}[a.cmd](a)
    print(json.dumps({'reference': 'pytorch', 'command': a.cmd, 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'blas': blas_library(), **result}))


if __name__ == '__main__':
    main()
