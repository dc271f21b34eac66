#!/usr/bin/python3
"""Golden masks for model/masks.ts and golden draws for model/torch-rng.ts.

Run with Debian's python3-torch (torch 1.13 on the CPU generator, no DataLoader, one process):
    /usr/bin/python3 test/golden/make_masks.py        # writes test/golden/masks.json

The collator below re-states the semantics of the official I-JEPA MaskCollator
(facebookresearch/ijepa, src/masks/multiblock.py, commit 52c1ae95; docs/masks.md)
with the same torch calls in the same order, so its draws are the official ones:
  - sizes: a fresh torch.Generator seeded with the batch counter (0, 1, ...); first torch.rand(1)
    -> target size, second -> context size; one uniform drives both scale and aspect ratio;
    h = round(sqrt(max_keep * a)), w = round(sqrt(max_keep / a)), clamped to <= H-1, W-1;
  - positions: torch.randint(0, H - h, (1,)) then torch.randint(0, W - w, (1,)) on the GLOBAL
    generator (seeded torch.manual_seed(0) at the start of each config), exclusive upper bounds;
  - per image: npred targets unconstrained, then nenc contexts restricted to the targets'
    complements; valid iff count > min_keep; every 20 failures drop one more region from the end;
  - indices ascending (torch.nonzero), every mask truncated to the batch minimum.
It also counts region relaxations (the official warning) so tests see that path was exercised.
Images and labels are not collated: they do not touch either generator.
"""
import json
import math
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'masks.json')


class GoldenCollator:
    def __init__(self, height, width, enc_scale, pred_scale, aspect, nenc, npred, min_keep,
                 allow_overlap):
        self.H, self.W = height, width
        self.enc_scale, self.pred_scale, self.aspect = enc_scale, pred_scale, aspect
        self.nenc, self.npred, self.min_keep = nenc, npred, min_keep
        self.allow_overlap = allow_overlap
        self.counter = -1  # official Value('i', -1): the first batch uses seed 0
        self.relaxations = 0

    def block_size(self, gen, scale, aspect):
        u = torch.rand(1, generator=gen).item()
        s = scale[0] + u * (scale[1] - scale[0])
        max_keep = int(self.H * self.W * s)
        a = aspect[0] + u * (aspect[1] - aspect[0])
        h = int(round(math.sqrt(max_keep * a)))  # Python round: half to even
        w = int(round(math.sqrt(max_keep / a)))
        while h >= self.H:
            h -= 1
        while w >= self.W:
            w -= 1
        return h, w

    def block_mask(self, size, regions=None):
        h, w = size
        tries, timeout = 0, 20
        while True:
            top = torch.randint(0, self.H - h, (1,))
            left = torch.randint(0, self.W - w, (1,))
            grid = torch.zeros((self.H, self.W), dtype=torch.int32)
            grid[top:top + h, left:left + w] = 1
            if regions is not None:
                for k in range(max(len(regions) - tries, 0)):
                    grid *= regions[k]
            idx = torch.nonzero(grid.flatten()).squeeze(1)
            if len(idx) > self.min_keep:
                break
            timeout -= 1
            if timeout == 0:
                tries += 1
                timeout = 20
                self.relaxations += 1
        complement = torch.ones((self.H, self.W), dtype=torch.int32)
        complement[top:top + h, left:left + w] = 0
        return idx, complement

    def __call__(self, B):
        self.counter += 1
        seed = self.counter
        g = torch.Generator()
        g.manual_seed(seed)
        p_size = self.block_size(g, self.pred_scale, self.aspect)
        e_size = self.block_size(g, self.enc_scale, (1., 1.))
        self.relaxations = 0
        preds, encs = [], []
        lp = le = self.H * self.W
        for _ in range(B):
            mp, comps = [], []
            for _ in range(self.npred):
                m, c = self.block_mask(p_size)
                mp.append(m)
                comps.append(c)
                lp = min(lp, len(m))
            regions = None if self.allow_overlap else comps
            me = []
            for _ in range(self.nenc):
                m, _ = self.block_mask(e_size, regions)
                me.append(m)
                le = min(le, len(m))
            preds.append(mp)
            encs.append(me)
        # Mask-major, each [B, L] flattened row-major: the layout of model/masks.ts.
        enc = [[int(v) for b in range(B) for v in encs[b][e][:le]] for e in range(self.nenc)]
        pred = [[int(v) for b in range(B) for v in preds[b][p][:lp]] for p in range(self.npred)]
        return {
            'seed': seed, 'predSize': list(p_size), 'encSize': list(e_size), 'Le': le, 'Lp': lp,
            'relaxations': self.relaxations, 'encMasks': enc, 'predMasks': pred,
            # Untruncated lengths, to show truncation happened.
            'encLengths': [[len(encs[b][e]) for e in range(self.nenc)] for b in range(B)],
        }


CONFIGS = [
    # name, options (as model/masks.ts takes them), B, batches
    ('g8_b4_mk4', dict(gridSize=8, minKeep=4), 4, 3),
    ('g14_b3_mk10', dict(gridSize=14, minKeep=10), 3, 2),
    # G = 6 targets are 2x2 for u < ~0.07, so min_keep must stay below 4.
    ('g6_nenc2', dict(gridSize=6, minKeep=3, nenc=2), 3, 2),
    # Small context vs large targets: contexts move, fail often, and regions get relaxed.
    ('g10_relax', dict(gridSize=10, minKeep=6, nenc=2, npred=3, encMaskScale=[0.2, 0.35],
                       predMaskScale=[0.3, 0.45], aspectRatio=[0.5, 2.0]), 4, 3),
    # 448/16: the context is 27x27 (fixed) for seed 0 and 26x26 (can move) for seed 1.
    ('g28_b2', dict(inputSize=448, patchSize=16), 2, 2),
    # Rectangular grid 12x8 from a (96, 64) crop with patch 8.
    ('rect_12x8', dict(inputSize=[96, 64], patchSize=8, minKeep=4), 3, 2),
]


def make_config(opts, B, batches):
    if 'gridSize' in opts:
        H = W = opts['gridSize']
    else:
        size = opts['inputSize']
        ih, iw = (size, size) if isinstance(size, int) else size
        H, W = ih // opts['patchSize'], iw // opts['patchSize']
    coll = GoldenCollator(
        H, W,
        tuple(opts.get('encMaskScale', (0.85, 1.0))),
        tuple(opts.get('predMaskScale', (0.15, 0.2))),
        tuple(opts.get('aspectRatio', (0.75, 1.5))),
        opts.get('nenc', 1), opts.get('npred', 4), opts.get('minKeep', 10), False)
    torch.manual_seed(0)
    out = [coll(B) for _ in range(batches)]
    # The next global draw proves the TS consumed exactly as many draws as torch.
    next_draw = int(torch.randint(0, 2 ** 31, (1,)).item())
    return out, next_draw


def rng_golden():
    """Raw draws for model/torch-rng.ts: interleaved rand/randint, incl. 64-bit ranges."""
    ops = [('rand',), ('randint', 0, 1), ('randint', 0, 7), ('randint', -5, 3),
           ('randint', 0, 2 ** 32 - 1), ('randint', 0, 2 ** 32), ('rand',),
           ('randint', -3, 2 ** 40), ('randint', 10, 11), ('randint', 0, 2 ** 53 - 1)]
    cases = []
    for seed in [0, 7, 2 ** 32 + 5]:
        torch.manual_seed(seed)
        vals = []
        for _ in range(2):
            for op in ops:
                if op[0] == 'rand':
                    vals.append(torch.rand(1).item())
                else:
                    vals.append(int(torch.randint(op[1], op[2], (1,)).item()))
        # Continue across the 624-word twist boundary; keep only a window.
        tail = [int(torch.randint(0, 1000003, (1,)).item()) for _ in range(700)]
        cases.append({'seed': seed, 'values': vals, 'tailFrom': 600, 'tail': tail[600:]})
    return {'ops': [list(op) for op in ops], 'cases': cases}


def main():
    doc = {
        'about': 'written by test/golden/make_masks.py with torch ' + torch.__version__,
        'rng': rng_golden(),
        'configs': [],
    }
    for name, opts, B, batches in CONFIGS:
        out, next_draw = make_config(opts, B, batches)
        doc['configs'].append({'name': name, 'options': opts, 'B': B, 'batches': out,
                               'nextDraw': next_draw})
    with open(OUT, 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
        f.write('\n')
    for c in doc['configs']:
        print(c['name'], [(b['predSize'], b['encSize'], b['Lp'], b['Le'], b['relaxations'])
                          for b in c['batches']])
    print('wrote', OUT, os.path.getsize(OUT), 'bytes')


if __name__ == '__main__':
    main()
