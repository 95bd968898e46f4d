#!/usr/bin/python3
"""Trains the Glimmer anomaly model on seeded simulated-plant windows and writes fp32 and int8 ONNX models.

Build-time only (Debian python3-torch, python3-onnx); the runtime never imports Python.
    npx tsx scripts/train/export-windows.ts --seed 11 --count 6000 --out /tmp/glimmer-train/train
    npx tsx scripts/train/export-windows.ts --seed 12 --count 1500 --out /tmp/glimmer-train/val
    /usr/bin/python3 scripts/train/train.py --data /tmp/glimmer-train --out models
Same data and seeds give the same weights (single-threaded, deterministic algorithms).

Model: raw window [B, 60, 18] -> per-feature standardisation (constants from the training set) -> the standardised
values and their first differences, embedded to d=32, plus a learned position embedding -> 2 pre-norm transformer
encoder blocks (4 heads) -> mean+max pooling, concatenated with the log standard deviation of every feature over
the window -> two softmax heads: the failure-mode class and the asset it is on (see runtime/reasoning/model-contract.ts).
int8: every MatMul with a constant weight becomes DynamicQuantizeLinear(activations) + MatMulInteger(uint8 x int8
per-tensor symmetric weights) + rescale, which is dynamic quantization as ONNX expresses it.
"""
import argparse
import hashlib
import json
import math
import os
import random

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

SEED = 20261126


def load(prefix):
    meta = json.load(open(prefix + '.json'))
    x = np.fromfile(prefix + '.f32', dtype='<f4').reshape(meta['shape'])
    return x, np.array(meta['labels'], dtype=np.int64), np.array(meta['asset_labels'], dtype=np.int64), meta


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, 2 * d)
        self.ff2 = nn.Linear(2 * d, d)

    def forward(self, h):
        b, t, d = h.shape
        dh = d // self.heads
        q, k, v = self.qkv(self.ln1(h)).chunk(3, dim=-1)
        q = q.reshape(b, t, self.heads, dh).transpose(1, 2)
        k = k.reshape(b, t, self.heads, dh).transpose(1, 2)
        v = v.reshape(b, t, self.heads, dh).transpose(1, 2)
        att = torch.softmax(torch.matmul(q, k.transpose(2, 3)) / math.sqrt(dh), dim=-1)
        o = torch.matmul(att, v).transpose(1, 2).reshape(b, t, d)
        h = h + self.proj(o)
        return h + self.ff2(torch.relu(self.ff1(self.ln2(h))))


class Net(nn.Module):
    def __init__(self, t, f, mean, std, scale, d=32, heads=4, layers=2, classes=4, assets=6):
        super().__init__()
        self.register_buffer('scale', torch.tensor(scale, dtype=torch.float32))
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32))
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32))
        self.embed = nn.Linear(2 * f, d)
        self.pos = nn.Parameter(torch.zeros(1, t, d))
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.hidden = nn.Linear(2 * d + 4 * f + 2, 64)
        t_idx = torch.arange(t, dtype=torch.float32)
        t_c = t_idx - t_idx.mean()
        # Least-squares slope over the window (per second with 1 s steps) as one weighted sum over time.
        self.register_buffer('slope_w', (t_c / (t_c * t_c).sum()).reshape(1, t, 1))
        self.cls = nn.Linear(64, classes)
        self.asset = nn.Linear(64, assets)

    def logits(self, x):
        # Round every reading to its register resolution on the wire, so simulator and live snapshots look alike.
        x = torch.round(x * self.scale) / self.scale
        z = (x - self.mean) / self.std
        dz = torch.clamp(torch.cat([torch.zeros_like(z[:, :1]), z[:, 1:] - z[:, :-1]], dim=1), -3.0, 3.0)
        h = self.embed(torch.cat([z, dz], dim=-1)) + self.pos
        for blk in self.blocks:
            h = blk(h)
        h = self.ln(h)
        # Window statistics the head sees in fp32 (the Gemm head is not quantized): spread, frozen readings,
        # trend and mean of every feature, and the volume balance of both tanks (a leak is volume the meters miss).
        c = x - x.mean(dim=1, keepdim=True)
        logstd = torch.log(torch.sqrt((c * c).mean(dim=1)) / self.std + 1e-6) / 10.0
        dx = x[:, 1:] - x[:, :-1]
        frozen = (dx == 0).float().mean(dim=1)
        slope = (x * self.slope_w).sum(dim=1)
        mean = z.mean(dim=1)
        # features: pumps (flow, pressure, vibration, temperature, speed) x2, tank levels (10, 11), valves (position, flow) x2
        area_h = 0.5 * 3600.0
        res1 = slope[:, 10] * area_h - (x[:, :, 0].mean(dim=1) - x[:, :, 13].mean(dim=1))
        res2 = slope[:, 11] * area_h - (x[:, :, 13].mean(dim=1) - x[:, :, 15].mean(dim=1))
        stats = torch.cat([logstd, frozen, slope / self.std * 60.0, mean, res1.unsqueeze(1), res2.unsqueeze(1)], dim=-1)
        g = torch.relu(self.hidden(torch.cat([h.mean(dim=1), h.amax(dim=1), stats], dim=-1)))
        return self.cls(g), self.asset(g)

    def forward(self, x):
        a, b = self.logits(x)
        return torch.softmax(a, dim=-1), torch.softmax(b, dim=-1)


def sha256(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def quantize_dynamic(src, dst):
    """Rewrites every MatMul whose second input is a 2-D float initializer into the dynamic int8 form."""
    model = onnx.load(src)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    nodes = []
    n = 0
    for node in g.node:
        w = inits.get(node.input[1]) if node.op_type == 'MatMul' and len(node.input) == 2 else None
        if w is None or len(w.dims) != 2 or w.data_type != TensorProto.FLOAT:
            nodes.append(node)
            continue
        n += 1
        wf = numpy_helper.to_array(w)
        scale = max(float(np.abs(wf).max()), 1e-8) / 127.0
        wq = np.clip(np.round(wf / scale), -127, 127).astype(np.int8)
        p = f'q{n}'
        g.initializer.extend([
            numpy_helper.from_array(wq, p + '_w'),
            numpy_helper.from_array(np.array(scale, dtype=np.float32), p + '_ws'),
            numpy_helper.from_array(np.array(0, dtype=np.int8), p + '_wz'),
        ])
        a = node.input[0]
        nodes += [
            helper.make_node('DynamicQuantizeLinear', [a], [p + '_a', p + '_as', p + '_az'], name=p + '_dql'),
            helper.make_node('MatMulInteger', [p + '_a', p + '_w', p + '_az', p + '_wz'], [p + '_y32'], name=p + '_mmi'),
            helper.make_node('Cast', [p + '_y32'], [p + '_yf'], to=TensorProto.FLOAT, name=p + '_cast'),
            helper.make_node('Mul', [p + '_as', p + '_ws'], [p + '_s'], name=p + '_scale'),
            helper.make_node('Mul', [p + '_yf', p + '_s'], [node.output[0]], name=p + '_rescale'),
        ]
    used = {i for node in nodes for i in node.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='/tmp/glimmer-train')
    ap.add_argument('--out', default='models')
    ap.add_argument('--epochs', type=int, default=8)
    args = ap.parse_args()

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    xtr, ytr, atr, meta = load(os.path.join(args.data, 'train'))
    xva, yva, ava, _ = load(os.path.join(args.data, 'val'))
    _, t, f = xtr.shape
    mean = xtr.reshape(-1, f).mean(axis=0)
    std = xtr.reshape(-1, f).std(axis=0) + 1e-3
    net = Net(t, f, mean, std, meta['wire_scale'], classes=len(meta['classes']), assets=len(meta['assets']))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=args.epochs * math.ceil(len(xtr) / 64))
    X, Y, A = torch.tensor(xtr), torch.tensor(ytr), torch.tensor(atr)
    gen = torch.Generator().manual_seed(SEED)
    ce = nn.CrossEntropyLoss(label_smoothing=0.05)
    for epoch in range(args.epochs):
        net.train()
        perm = torch.randperm(len(X), generator=gen)
        total = 0.0
        for i in range(0, len(X), 64):
            idx = perm[i:i + 64]
            lc, la = net.logits(X[idx])
            loss = ce(lc, Y[idx])
            mask = A[idx] >= 0
            if mask.any():
                loss = loss + 0.5 * ce(la[mask], A[idx][mask])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        net.eval()
        with torch.no_grad():
            pc, pa = net(torch.tensor(xva))
        acc = float((pc.argmax(-1) == torch.tensor(yva)).float().mean())
        print(f'epoch {epoch + 1}: loss {total / len(X):.4f} val class accuracy {acc:.4f}', flush=True)

    os.makedirs(args.out, exist_ok=True)
    fp32 = os.path.join(args.out, 'anomaly-fp32.onnx')
    int8 = os.path.join(args.out, 'anomaly-int8.onnx')
    net.eval()
    torch.onnx.export(net, torch.tensor(xva[:2]), fp32, input_names=['windows'], output_names=['class_probs', 'asset_probs'],
                      dynamic_axes={'windows': {0: 'batch'}, 'class_probs': {0: 'batch'}, 'asset_probs': {0: 'batch'}},
                      opset_version=17, do_constant_folding=True)
    m = onnx.load(fp32)
    m.producer_name = 'glimmer scripts/train/train.py'
    onnx.save(m, fp32)
    quantized = quantize_dynamic(fp32, int8)
    info = {'fp32': {'path': fp32, 'sha256': sha256(fp32), 'bytes': os.path.getsize(fp32)},
            'int8': {'path': int8, 'sha256': sha256(int8), 'bytes': os.path.getsize(int8), 'quantized_matmuls': quantized},
            'seed': SEED, 'epochs': args.epochs, 'train_windows': int(len(xtr)), 'val_windows': int(len(xva))}
    with open(os.path.join(args.out, 'SHA256SUMS'), 'w') as fh:
        for k in ('int8', 'fp32'):
            fh.write(f"{info[k]['sha256']}  {os.path.basename(info[k]['path'])}\n")
    print(json.dumps(info, indent=2))


if __name__ == '__main__':
    main()
