#!/usr/bin/python3
"""make_step_bundle.py: PyTorch reference for ONE I-JEPA training step, written as "step bundles".

What it is
    An independent re-implementation of one iteration of facebookresearch/ijepa `src/train.py`
    (docs/masks.md; docs/ijepa-step.md: encoder §2, predictor §3, step §4.1, AdamW §4.2),
    run on tiny models. For each bundle it writes the initial weights, the inputs and masks, the
    loss, three activations, every gradient, and the weights after one AdamW step and one EMA
    update. The TypeScript trainer's parity test loads a bundle, runs the same step and compares.

What it deliberately is not
    Not the official code (that repository is not imported or vendored): it follows docs/ijepa-step.md and docs/masks.md.
    Not a model of the official *init*: after the official init (trunc-normal std 0.02 with
    absolute bounds ±2 on every Linear/Conv weight and on mask_token, biases 0, LayerNorm 1/0),
    ALL biases and ALL LayerNorm weights/biases get uniform noise in [-0.05, 0.05), so that they
    are non-trivial and a swapped or ignored bias shows up. The parity test is about the step.
    No bf16 autocast, no GradScaler, no schedules: lr, weight decay and momentum are the fixed
    values recorded in the metadata: by default those of the first official iteration (1e-3 is
    the ref lr, wd 0.04, m 0.996); a bundle may set its own (the ema-* bundles do, so that a
    target encoder mixed from the wrong weights shows: at m 0.996 only 0.4 % of an update
    reaches it).

Precision
    Init, images and masks are drawn in float32 (torch CPU RNG, torch.manual_seed(seed)); the
    fixed sin-cos tables are computed in float64 and rounded to float32 as in the official code.
    The step itself (forwards, backward, AdamW, EMA) then runs in float64 on those float32 values,
    and every result is rounded to float32 only when written. One CPU thread, so two runs give
    byte-identical files.

Bundle format (safetensors, written by hand: no safetensors package is used)
    file = u64 little-endian header length n | n bytes of JSON header, padded with spaces so
           that n % 8 == 0 | raw little-endian tensor data, row-major, in header order.
    header = {"__metadata__": {str: str}, name: {"dtype": "F32"|"I32", "shape": [...],
              "data_offsets": [start, end]}, ...}  (offsets relative to the end of the header)
    __metadata__:
      format        "ijepa-step-bundle/1"
      config        JSON {"img","patch","chans","dim","depth","heads","pred_depth","pred_dim",
                          "batch","nenc","npred"}  (mlp ratio 4, qkv bias, predictor heads =
                          encoder heads, as in the official code)
      lr            str(float) used for every group
      weight_decay  the wd of the decayed groups (0 and 1); excluded groups (2, 3) use 0
      momentum      EMA momentum m
      adamw         JSON {"betas":[0.9,0.999],"eps":1e-8,"step":1}
    tensors (float32 "F32" unless noted; <name> = official parameter name without `module.`):
      init/encoder/<name>, init/predictor/<name>          all parameters, incl. the fixed pos tables
      input/imgs                 [B, C, H, W]
      masks/enc/<i>   (I32)      [B, Kc]  i < nenc, ascending patch indices n = row*G + col
      masks/pred/<i>  (I32)      [B, Kt]  i < npred
      loss                       shape [] (0-d scalar, 4 bytes): smooth_l1 beta 1, mean
      act/context                [nenc*B, Kc, D]         encoder(imgs, masks_enc)
      act/target                 [npred*nenc*B, Kt, D]   target features (see step below)
      act/prediction             [npred*nenc*B, Kt, D]   predictor output
      grad/encoder/<name>, grad/predictor/<name>          every parameter with a gradient
                                 (all but pos_embed and predictor_pos_embed), before the update
      after/encoder/<name>, after/predictor/<name>        after one AdamW step (pos tables unchanged)
      after/target_encoder/<name>                         after the EMA with the updated encoder

The step (docs/ijepa-step.md §4.1, one process; rows of every batched tensor are ordered as in docs/ijepa-step.md)
    h = target_encoder(imgs)                        full image, incl. its final affine LN
    h = F.layer_norm(h, (D,))                       no affine, eps 1e-5
    h = apply_masks(h, masks_pred)                  row p*B + b
    h = repeat_interleave_batch(h, B, nenc)         row p*nenc*B + e*B + b      -> act/target
    z = encoder(imgs, masks_enc)                    row e*B + b                 -> act/context
    z = predictor(z, masks_enc, masks_pred)         row p*nenc*B + e*B + b      -> act/prediction
    loss = smooth_l1_loss(z, h, beta=1) (mean); backward
    AdamW (torch.optim.AdamW, 4 official groups), then θ̄ ← m·θ̄ + (1 − m)·θ over all parameters.
    The target encoder starts as an exact copy of the (perturbed) encoder.

Masks
    The official multi-block collator (docs/masks.md) re-implemented, with constructor arguments set
    per bundle in BUNDLES: odd-heads uses the training values (min_keep 4); micro and two-ctx
    change scales and allow overlap so that Kc and Kt are not degenerate on their tiny grids
    (see the comments there). The mask values themselves are only inputs of the step: the test
    reads them from the bundle. Block sizes come from a generator seeded with the bundle seed
    (the official collator would use its counter, 0 for the first batch); positions from the
    global RNG, after the images are drawn.

Notes for the parity test
    Gradients are small (the loss is a mean over npred*nenc*B*Kt*D elements; median |g| is about
    1e-7, near AdamW's eps 1e-8), so compare each gradient relative to its tensor's max. The key
    third of every attn.qkv.bias gradient is 0 in exact arithmetic (softmax ignores a constant
    shift of the logits; here it is ~1e-24), so an f32 trainer's value there is pure noise, and
    at step 1 AdamW turns it into lr*g/(|g| + eps): compare after/* with an absolute tolerance.

Run (Debian's python, which has torch; the pyenv `python3` on PATH has none):
    /usr/bin/python3 test/golden/make_step_bundle.py [OUT_DIR]
OUT_DIR defaults to test/golden/bundles beside this script. It prints each bundle's loss and size.
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT = "ijepa-step-bundle/1"
# Defaults of a bundle's step hyper-parameters (a BUNDLES entry may override each).
LR = 1e-3
WEIGHT_DECAY = 0.04
MOMENTUM = 0.996
BETAS = (0.9, 0.999)
EPS = 1e-8
PERTURB = 0.05  # half-width of the uniform noise on biases and LayerNorm parameters

# Collator arguments: the official training values except where noted per bundle.
OFFICIAL_COLLATOR = dict(enc_scale=(0.85, 1.0), pred_scale=(0.15, 0.2), aspect=(0.75, 1.5),
                         min_keep=10, allow_overlap=False)

BUNDLES = [
    # G = 4. The official scales give 1x1 targets here (Kt 1) and, without overlap, a context of
    # a few patches; pred scale (0.2, 0.3) gives 2x2 targets and allow_overlap keeps the whole
    # 3x3 context square: Kc 9, Kt 4.
    dict(name="micro-s0", seed=0,
         config=dict(img=32, patch=8, chans=3, dim=64, depth=2, heads=2, pred_depth=2,
                     pred_dim=32, batch=4, nenc=1, npred=4),
         collator=dict(OFFICIAL_COLLATOR, pred_scale=(0.2, 0.3), allow_overlap=True, min_keep=0)),
    # G = 8, the official arguments except min_keep 4 as in issue #39 (10 hangs on 3x3 targets).
    # Kc 20, Kt 12. Head dim 16 with 3 heads (pred: 8 with 3 heads).
    dict(name="odd-heads-s1", seed=1,
         config=dict(img=32, patch=4, chans=3, dim=48, depth=2, heads=3, pred_depth=2,
                     pred_dim=24, batch=2, nenc=1, npred=4),
         collator=dict(OFFICIAL_COLLATOR, min_keep=4)),
    # G = 6. With the official context scale the 5x5 context square can only sit at (0, 0), so
    # the two context masks of an image would be equal; scale (0.4, 0.6) gives a 4x4 block at one
    # of 4 places, and allow_overlap keeps it whole: Kc 16, Kt 6, and for every image the two
    # context masks differ, so pairing context e of image b with the wrong rows shows.
    dict(name="two-ctx-s2", seed=2,
         config=dict(img=24, patch=4, chans=3, dim=32, depth=2, heads=2, pred_depth=2,
                     pred_dim=16, batch=3, nenc=2, npred=3),
         collator=dict(OFFICIAL_COLLATOR, enc_scale=(0.4, 0.6), allow_overlap=True, min_keep=2)),
    # Other step hyper-parameters, on small models (0.2-0.3 MB each). Momentum 0.5 puts half
    # of the encoder's update into the target, so an EMA taken from the weights before AdamW (or
    # from the predictor's, or with m and 1 - m swapped) is off by ~lr/2; lr 1e-2 and wd 0.1 make
    # the decoupled decay 1e-3 of each decayed weight. G = 4 with the micro collator: Kc 9, Kt 4.
    dict(name="ema-half-s3", seed=3, lr=1e-2, weight_decay=0.1, momentum=0.5,
         config=dict(img=16, patch=4, chans=3, dim=24, depth=2, heads=2, pred_depth=1,
                     pred_dim=12, batch=2, nenc=2, npred=2),
         collator=dict(OFFICIAL_COLLATOR, pred_scale=(0.2, 0.3), allow_overlap=True, min_keep=0)),
    # Momentum 0.9, lr 3e-3, wd 0.3; head dim 8 with 3 heads, one block each. G = 5.
    dict(name="ema-0.9-s4", seed=4, lr=3e-3, weight_decay=0.3, momentum=0.9,
         config=dict(img=20, patch=4, chans=3, dim=24, depth=1, heads=3, pred_depth=1,
                     pred_dim=12, batch=2, nenc=1, npred=3),
         collator=dict(OFFICIAL_COLLATOR, min_keep=2)),
]


# ------------------------------------------------------------------------------------------------
# Masks (docs/masks.md)

def sample_block_size(gen, G, scale, aspect):
    """One uniform u fixes both scale and aspect ratio (docs/masks.md §2)."""
    u = torch.rand(1, generator=gen).item()
    s = scale[0] + u * (scale[1] - scale[0])
    max_keep = int(G * G * s)
    a = aspect[0] + u * (aspect[1] - aspect[0])
    h = int(round(math.sqrt(max_keep * a)))
    w = int(round(math.sqrt(max_keep / a)))
    while h >= G:
        h -= 1
    while w >= G:
        w -= 1
    return h, w


def sample_block_mask(G, size, min_keep, regions=None):
    """Rejection-sample a block (docs/masks.md §3); returns (ascending indices, complement grid)."""
    h, w = size
    tries, timeout = 0, 20
    while True:
        top = int(torch.randint(0, G - h, (1,)))    # upper bound exclusive, as in the official code
        left = int(torch.randint(0, G - w, (1,)))
        mask = torch.zeros((G, G), dtype=torch.int32)
        mask[top:top + h, left:left + w] = 1
        if regions is not None:
            for k in range(max(len(regions) - tries, 0)):
                mask *= regions[k]
        idx = torch.nonzero(mask.flatten()).reshape(-1)
        if len(idx) > min_keep:
            break
        timeout -= 1
        if timeout == 0:
            tries += 1
            timeout = 20
    comp = torch.ones((G, G), dtype=torch.int32)
    comp[top:top + h, left:left + w] = 0
    return idx, comp


def multiblock_masks(G, B, nenc, npred, seed, enc_scale, pred_scale, aspect, min_keep,
                     allow_overlap):
    """The collator's mask half: lists of nenc (B, Le) and npred (B, Lp) int64 tensors."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    p_size = sample_block_size(gen, G, pred_scale, aspect)
    e_size = sample_block_size(gen, G, enc_scale, (1.0, 1.0))
    preds, encs = [], []
    for _ in range(B):
        mp, comps = [], []
        for _ in range(npred):
            idx, comp = sample_block_mask(G, p_size, min_keep)
            mp.append(idx)
            comps.append(comp)
        regions = None if allow_overlap else comps
        me = [sample_block_mask(G, e_size, min_keep, regions)[0] for _ in range(nenc)]
        preds.append(mp)
        encs.append(me)
    lp = min(len(m) for mp in preds for m in mp)
    le = min(len(m) for me in encs for m in me)
    masks_pred = [torch.stack([preds[b][i][:lp] for b in range(B)]) for i in range(npred)]
    masks_enc = [torch.stack([encs[b][i][:le] for b in range(B)]) for i in range(nenc)]
    return masks_enc, masks_pred


def apply_masks(x, masks):
    """x [B, N, D], masks: list of [B, K] -> [len(masks)*B, K, D], row m*B + b (docs/masks.md §6)."""
    out = []
    for m in masks:
        idx = m.unsqueeze(-1).expand(-1, -1, x.size(-1))
        out.append(torch.gather(x, 1, idx))
    return torch.cat(out, dim=0)


def repeat_interleave_batch(x, B, repeat):
    """Each consecutive chunk of B rows repeated `repeat` times back to back."""
    n = len(x) // B
    return torch.cat([torch.cat([x[i * B:(i + 1) * B] for _ in range(repeat)], dim=0)
                      for i in range(n)], dim=0)


# ------------------------------------------------------------------------------------------------
# Models (docs/ijepa-step.md §2, §3). Attribute paths give the official parameter names.

def sincos_2d(E, G):
    """[G*G, E] float64; first half encodes the column index j, second half the row i (docs/ijepa-step.md §2.3)."""
    Q = E // 4
    omega = 1.0 / 10000 ** (np.arange(Q, dtype=np.float64) / Q)
    i, j = np.meshgrid(np.arange(G, dtype=np.float64), np.arange(G, dtype=np.float64),
                       indexing="ij")
    j = np.outer(j.reshape(-1), omega)  # [N, Q]
    i = np.outer(i.reshape(-1), omega)
    return np.concatenate([np.sin(j), np.cos(j), np.sin(i), np.cos(i)], axis=1)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, D = x.shape
        H, Dh = self.heads, D // self.heads
        q, k, v = self.qkv(x).reshape(B, N, 3, H, Dh).permute(2, 0, 3, 1, 4)  # 3x[B, H, N, Dh]
        a = (q @ k.transpose(-2, -1)) * Dh ** -0.5                           # [B, H, N, N]
        y = a.softmax(dim=-1) @ v                                            # [B, H, N, Dh]
        return self.proj(y.transpose(1, 2).reshape(B, N, D))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact erf GELU


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, chans, dim):
        super().__init__()
        self.proj = nn.Conv2d(chans, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, D, G, G] -> [B, N, D]


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        G = c["img"] // c["patch"]
        self.pos_embed = nn.Parameter(
            torch.from_numpy(sincos_2d(c["dim"], G)).float().unsqueeze(0), requires_grad=False)
        self.patch_embed = PatchEmbed(c["patch"], c["chans"], c["dim"])
        self.blocks = nn.ModuleList([Block(c["dim"], c["heads"]) for _ in range(c["depth"])])
        self.norm = nn.LayerNorm(c["dim"], eps=1e-6)

    def forward(self, x, masks=None):
        x = self.patch_embed(x) + self.pos_embed            # [B, N, D]
        if masks is not None:
            x = apply_masks(x, masks)                       # [nenc*B, Kc, D]
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


class Predictor(nn.Module):
    def __init__(self, c):
        super().__init__()
        G = c["img"] // c["patch"]
        Dp = c["pred_dim"]
        self.mask_token = nn.Parameter(torch.zeros(1, 1, Dp))
        self.predictor_pos_embed = nn.Parameter(
            torch.from_numpy(sincos_2d(Dp, G)).float().unsqueeze(0), requires_grad=False)
        self.predictor_embed = nn.Linear(c["dim"], Dp)
        self.predictor_blocks = nn.ModuleList([Block(Dp, c["heads"])
                                               for _ in range(c["pred_depth"])])
        self.predictor_norm = nn.LayerNorm(Dp, eps=1e-6)
        self.predictor_proj = nn.Linear(Dp, c["dim"])

    def forward(self, x, masks_x, masks):
        nenc, npred = len(masks_x), len(masks)
        B = len(x) // nenc
        pos = self.predictor_pos_embed.repeat(B, 1, 1)                      # [B, N, Dp]
        x = self.predictor_embed(x) + apply_masks(pos, masks_x)            # [nenc*B, Kc, Dp]
        Kc = x.size(1)
        t = repeat_interleave_batch(apply_masks(pos, masks), B, nenc)      # [npred*nenc*B, Kt, Dp]
        t = t + self.mask_token
        x = torch.cat([x.repeat(npred, 1, 1), t], dim=1)                   # [.., Kc + Kt, Dp]
        for blk in self.predictor_blocks:
            x = blk(x)
        x = self.predictor_norm(x)[:, Kc:]                                  # [.., Kt, Dp]
        return self.predictor_proj(x)                                       # [.., Kt, D]


def init_weights(model):
    """Official init in effect (docs/ijepa-step.md §2.4), then the test perturbation of biases and LN params."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.trunc_normal_(m.weight, std=0.02, a=-2.0, b=2.0)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if isinstance(model, Predictor):
        nn.init.trunc_normal_(model.mask_token, std=0.02, a=-2.0, b=2.0)
    with torch.no_grad():
        for m in model.modules():
            params = []
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                params = [m.bias]
            elif isinstance(m, nn.LayerNorm):
                params = [m.weight, m.bias]
            for p in params:
                p.add_(torch.empty_like(p).uniform_(-PERTURB, PERTURB))


def param_groups(encoder, predictor, wd):
    """The 4 groups of init_opt, in order (docs/ijepa-step.md §4.2). Frozen pos tables never get a grad."""
    def decayed(n, p):
        return "bias" not in n and p.ndim != 1
    enc, pred = list(encoder.named_parameters()), list(predictor.named_parameters())
    return [
        {"params": [p for n, p in enc if decayed(n, p)], "weight_decay": wd},
        {"params": [p for n, p in pred if decayed(n, p)], "weight_decay": wd},
        {"params": [p for n, p in enc if not decayed(n, p)], "weight_decay": 0.0},
        {"params": [p for n, p in pred if not decayed(n, p)], "weight_decay": 0.0},
    ]



def target_copy(encoder, c):
    """The target encoder: a frozen copy of the context encoder, moved only by the EMA."""
    target = Encoder(c).to(next(encoder.parameters()).dtype)
    target.load_state_dict(encoder.state_dict())
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def target_features(target_encoder, x, masks_pred, B, nenc):
    """The regression targets: target-encoder tokens, layer-normed (no affine), at the target blocks."""
    h = target_encoder(x)                                      # [B, N, D]
    h = F.layer_norm(h, (h.size(-1),))                         # no affine, eps 1e-5
    h = apply_masks(h, masks_pred)                             # [npred*B, Kt, D]
    return repeat_interleave_batch(h, B, nenc)                 # [npred*nenc*B, Kt, D]


@torch.no_grad()
def ema_update(target_encoder, encoder, momentum):
    for pq, pk in zip(encoder.parameters(), target_encoder.parameters()):
        pk.mul_(momentum).add_((1.0 - momentum) * pq.detach())


def train_step(encoder, predictor, target_encoder, opt, x, masks_enc, masks_pred, nenc, momentum):
    """One iteration of the official train_step (fixed lr/wd/momentum): returns the loss tensor."""
    h = target_features(target_encoder, x, masks_pred, x.shape[0], nenc)
    z = predictor(encoder(x, masks_enc), masks_enc, masks_pred)
    loss = F.smooth_l1_loss(z, h, beta=1.0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    ema_update(target_encoder, encoder, momentum)
    return loss

# ------------------------------------------------------------------------------------------------
# safetensors, by hand

def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, np.ndarray of float32 or int32), written in that order."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, arr in tensors:
        if arr.dtype == np.float32:
            dtype = "F32"
        elif arr.dtype == np.int32:
            dtype = "I32"
        else:
            raise TypeError(f"write {path}: {name} has dtype {arr.dtype}, want float32 or int32")
        data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for data in blobs:
            f.write(data)


def read_safetensors(path):
    """Round-trip check of the writer: returns (metadata, {name: np.ndarray})."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    out = {}
    for name, h in header.items():
        dt = {"F32": "<f4", "I32": "<i4"}[h["dtype"]]
        s, e = h["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + s:8 + n + e], dtype=dt).reshape(h["shape"])
    return meta, out


# ------------------------------------------------------------------------------------------------
# One step

def f32(t):
    return t.detach().to(torch.float32).cpu().numpy()


def make_bundle(spec, out_dir):
    c, seed = spec["config"], spec["seed"]
    lr = spec.get("lr", LR)
    wd = spec.get("weight_decay", WEIGHT_DECAY)
    momentum = spec.get("momentum", MOMENTUM)
    B, nenc, npred = c["batch"], c["nenc"], c["npred"]
    G = c["img"] // c["patch"]

    # Everything random is drawn in float32 on the CPU, in this order.
    torch.manual_seed(seed)
    encoder, predictor = Encoder(c), Predictor(c)
    init_weights(encoder)
    init_weights(predictor)
    imgs = torch.randn(B, c["chans"], c["img"], c["img"])
    masks_enc, masks_pred = multiblock_masks(G, B, nenc, npred, seed, **spec["collator"])

    for m in masks_enc + masks_pred:
        assert m.shape[0] == B and m.min() >= 0 and m.max() < G * G
        assert bool((m[:, 1:] > m[:, :-1]).all()), "mask indices must be ascending"

    init_enc = [(n, p.detach().clone()) for n, p in encoder.named_parameters()]
    init_pred = [(n, p.detach().clone()) for n, p in predictor.named_parameters()]

    # The step, in float64.
    encoder.double()
    predictor.double()
    target_encoder = target_copy(encoder, c)
    x = imgs.double()

    h = target_features(target_encoder, x, masks_pred, B, nenc)  # [npred*nenc*B, Kt, D]
    ctx = encoder(x, masks_enc)                                # [nenc*B, Kc, D]
    z = predictor(ctx, masks_enc, masks_pred)                  # [npred*nenc*B, Kt, D]
    loss = F.smooth_l1_loss(z, h, beta=1.0)
    loss.backward()

    grads = [("encoder", n, p.grad.clone()) for n, p in encoder.named_parameters()
             if p.grad is not None]
    grads += [("predictor", n, p.grad.clone()) for n, p in predictor.named_parameters()
              if p.grad is not None]
    n_trainable = sum(p.requires_grad for p in encoder.parameters()) + \
        sum(p.requires_grad for p in predictor.parameters())
    assert len(grads) == n_trainable, "every trainable parameter must receive a gradient"

    # Manual AdamW, step 1, to cross-check torch.optim.AdamW below.
    groups = param_groups(encoder, predictor, wd)
    expect = {}
    for g in groups:
        for p in g["params"]:
            if p.grad is None:
                continue
            gr = p.grad
            m_hat = (1 - BETAS[0]) * gr / (1 - BETAS[0])
            v_hat = (1 - BETAS[1]) * gr * gr / (1 - BETAS[1])
            expect[id(p)] = p.detach() * (1 - lr * g["weight_decay"]) - \
                lr * m_hat / (v_hat.sqrt() + EPS)

    opt = torch.optim.AdamW(groups, lr=lr, betas=BETAS, eps=EPS)
    opt.step()
    for g in groups:
        for p in g["params"]:
            if id(p) in expect:
                err = (p.detach() - expect[id(p)]).abs().max().item()
                assert err < 1e-15, f"AdamW cross-check failed by {err}"

    ema_update(target_encoder, encoder, momentum)

    tensors = []
    tensors += [(f"init/encoder/{n}", f32(t)) for n, t in init_enc]
    tensors += [(f"init/predictor/{n}", f32(t)) for n, t in init_pred]
    tensors.append(("input/imgs", f32(imgs)))
    tensors += [(f"masks/enc/{i}", m.to(torch.int32).numpy()) for i, m in enumerate(masks_enc)]
    tensors += [(f"masks/pred/{i}", m.to(torch.int32).numpy()) for i, m in enumerate(masks_pred)]
    tensors.append(("loss", f32(loss)))
    tensors.append(("act/context", f32(ctx)))
    tensors.append(("act/target", f32(h)))
    tensors.append(("act/prediction", f32(z)))
    tensors += [(f"grad/{net}/{n}", f32(g)) for net, n, g in grads]
    tensors += [(f"after/encoder/{n}", f32(p)) for n, p in encoder.named_parameters()]
    tensors += [(f"after/predictor/{n}", f32(p)) for n, p in predictor.named_parameters()]
    tensors += [(f"after/target_encoder/{n}", f32(p))
                for n, p in target_encoder.named_parameters()]

    metadata = {
        "format": FORMAT,
        "config": json.dumps(c, separators=(",", ":")),
        "lr": repr(lr),
        "weight_decay": repr(wd),
        "momentum": repr(momentum),
        "adamw": json.dumps({"betas": list(BETAS), "eps": EPS, "step": 1},
                            separators=(",", ":")),
    }
    path = os.path.join(out_dir, spec["name"] + ".safetensors")
    write_safetensors(path, tensors, metadata)

    meta_back, back = read_safetensors(path)
    assert meta_back == metadata and list(back) == [n for n, _ in tensors]
    for n, a in tensors:
        assert back[n].dtype == a.dtype and np.array_equal(back[n], a), f"round trip: {n}"

    Kc, Kt = masks_enc[0].shape[1], masks_pred[0].shape[1]
    print(f"{spec['name']}: G {G}, Kc {Kc}, Kt {Kt}, loss {loss.item():.9g}, "
          f"{os.path.getsize(path)} bytes -> {path}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "bundles")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    # The golden of docs/ijepa-step.md §2.3 for the sin-cos table (E = 8, G = 3), tokens 1 (i 0, j 1) and 3 (i 1, j 0).
    t = sincos_2d(8, 3)
    assert np.allclose(t[1], [0.841471, 0.01, 0.540302, 0.99995, 0, 0, 1, 1], atol=1e-6)
    assert np.allclose(t[3], [0, 0, 1, 1, 0.841471, 0.01, 0.540302, 0.99995], atol=1e-6)
    for spec in BUNDLES:
        make_bundle(spec, out_dir)


if __name__ == "__main__":
    main()
