#!/usr/bin/python3
"""make_interop.py: PyTorch goldens for checkpoint import/export (test/interop.test.ts).

What it is
    Builds a small official-style I-JEPA (the model code of make_step_bundle.py, imported from
    it), trains it for two iterations as official src/train.py does (AdamW in init_opt's four
    groups with WD_exclude, EMA of the target encoder), and writes:
      interop/official-micro.pth.tar   the checkpoint exactly as train.py saves it: torch.save of
                                       {encoder, predictor, target_encoder (DDP-style `module.`
                                       state dicts), opt, scaler None, epoch, loss, batch_size,
                                       world_size, lr}
      interop/hf-encoder.safetensors   the context encoder in transformers' IJepaModel naming
                                       (q/k/v split out of qkv), as convert_ijepa_to_hf.py does
      interop/features.safetensors     fixed input images, the encoder's and the target
                                       encoder's features on them (computed in float64, stored
                                       float32), and a few AdamW moments by official name
    Run with no argument to (re)write those files.

    `make_interop.py check-export FILE.pth.tar` is the other half of the export test: it loads a
    checkpoint written by `ijepa export --to pth` with torch.load(weights_only=True), loads every
    net into the official-style modules with load_state_dict(strict=True) after stripping
    `module.`, loads `opt` into torch.optim.AdamW with the four official groups, recomputes the
    features of the golden images and prints one JSON line with the errors (exit 1 on failure).

What it deliberately is not
    Not the official code (that repository is not vendored): make_step_bundle.py is our spec-based
    re-implementation, and this file only adds the saving, the renaming and the checks.

Config (micro-like, small enough to commit): img 16, patch 4 (G 4, N 16), dim 16, depth 2,
heads 2, predictor 1 x 8, batch 2, nenc 1, npred 2. Total output is about 150 KB.

Run (Debian's python, which has torch):  /usr/bin/python3 test/golden/make_interop.py
"""

import json
import os
import pickle
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_step_bundle import (  # noqa: E402  (the model code lives there)
    Encoder, Predictor, init_weights, multiblock_masks, read_safetensors,
    target_copy, train_step, write_safetensors,
)

CONFIG = dict(img=16, patch=4, chans=3, dim=16, depth=2, heads=2, pred_depth=1, pred_dim=8,
              batch=2, nenc=1, npred=2)
SEED = 7
LR, WD, BETAS, EPS = 1e-3, 0.04, (0.9, 0.999), 1e-8
MOMENTUM = 0.996
STEPS = 2
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "interop")
# AdamW moments written for the test to compare by name: one per official group (0, 1, 2, 3).
MOMENT_NAMES = [("encoder", "blocks.1.mlp.fc2.weight"), ("predictor", "mask_token"),
                ("encoder", "blocks.0.attn.qkv.bias"), ("predictor", "predictor_proj.bias")]


class DDP(nn.Module):
    """Stands in for DistributedDataParallel: its state_dict keys are `module.` + the net's."""

    def __init__(self, module):
        super().__init__()
        self.module = module


def init_opt_groups(encoder, predictor):
    """src/helper.py init_opt's four groups, WD_exclude included (docs/ijepa-step.md §4.2)."""
    def decayed(n, p):
        return "bias" not in n and len(p.shape) != 1
    enc, pred = list(encoder.named_parameters()), list(predictor.named_parameters())
    return [
        {"params": [p for n, p in enc if decayed(n, p)]},
        {"params": [p for n, p in pred if decayed(n, p)]},
        {"params": [p for n, p in enc if not decayed(n, p)], "WD_exclude": True, "weight_decay": 0},
        {"params": [p for n, p in pred if not decayed(n, p)], "WD_exclude": True, "weight_decay": 0},
    ]


def to_hf(sd, D):
    """Official encoder names -> IJepaModel names (convert_ijepa_to_hf.py, written independently)."""
    out = {}
    for k, v in sd.items():
        if k == "pos_embed":
            out["embeddings.position_embeddings"] = v
        elif k.startswith("patch_embed.proj."):
            out["embeddings.patch_embeddings.projection." + k.split(".")[-1]] = v
        elif k.startswith("norm."):
            out["layernorm." + k.split(".")[-1]] = v
        else:
            _, i, rest = k.split(".", 2)
            kind = rest.split(".")[-1]
            if rest.startswith("attn.qkv."):
                for j, s in enumerate(["query", "key", "value"]):
                    out[f"encoder.layer.{i}.attention.attention.{s}.{kind}"] = v[j * D:(j + 1) * D]
                continue
            new = {"norm1": "layernorm_before", "norm2": "layernorm_after",
                   "attn.proj": "attention.output.dense", "mlp.fc1": "intermediate.dense",
                   "mlp.fc2": "output.dense"}[rest.rsplit(".", 1)[0]]
            out[f"encoder.layer.{i}.{new}.{kind}"] = v
    return out


def f32(t):
    return t.detach().to(torch.float32).cpu().numpy()


def features(encoder, imgs):
    """Encoder output in float64 on a float64 copy (the TS side runs f32)."""
    e = Encoder(CONFIG).double()
    e.load_state_dict({k: v.double() for k, v in encoder.state_dict().items()})
    with torch.no_grad():
        return e(imgs.double())


def make():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    c = CONFIG
    B, G = c["batch"], c["img"] // c["patch"]
    torch.manual_seed(SEED)
    encoder, predictor = Encoder(c), Predictor(c)
    init_weights(encoder)
    init_weights(predictor)
    target_encoder = target_copy(encoder, c)
    opt = torch.optim.AdamW(init_opt_groups(encoder, predictor), lr=LR, betas=BETAS, eps=EPS)
    losses = []
    for it in range(STEPS):
        for g in opt.param_groups:           # the schedulers' writes (fixed values here)
            g["lr"] = LR
            if not g.get("WD_exclude", False):
                g["weight_decay"] = WD
        imgs = torch.randn(B, c["chans"], c["img"], c["img"])
        masks_enc, masks_pred = multiblock_masks(G, B, c["nenc"], c["npred"], SEED + it,
                                                 enc_scale=(0.85, 1.0), pred_scale=(0.2, 0.3),
                                                 aspect=(0.75, 1.5), min_keep=0,
                                                 allow_overlap=True)
        loss = train_step(encoder, predictor, target_encoder, opt, imgs, masks_enc, masks_pred,
                          c["nenc"], MOMENTUM)
        losses.append(float(loss))

    save_dict = {
        "encoder": DDP(encoder).state_dict(),
        "predictor": DDP(predictor).state_dict(),
        "target_encoder": DDP(target_encoder).state_dict(),
        "opt": opt.state_dict(),
        "scaler": None,
        "epoch": 1,
        "loss": sum(losses) / len(losses),
        "batch_size": B,
        "world_size": 1,
        "lr": LR,
    }
    pth = os.path.join(OUT, "official-micro.pth.tar")
    torch.save(save_dict, pth)

    hf = to_hf(encoder.state_dict(), c["dim"])
    write_safetensors(os.path.join(OUT, "hf-encoder.safetensors"),
                      [(k, f32(v)) for k, v in hf.items()], {"format": "pt"})

    torch.manual_seed(SEED + 100)
    imgs = torch.randn(3, c["chans"], c["img"], c["img"])
    names = {id(p): ("encoder", n) for n, p in encoder.named_parameters()}
    names.update({id(p): ("predictor", n) for n, p in predictor.named_parameters()})
    moments = {}
    for p, st in opt.state.items():
        net, n = names[id(p)]
        if (net, n) in MOMENT_NAMES:
            moments[f"opt/exp_avg/{net}/{n}"] = f32(st["exp_avg"])
            moments[f"opt/exp_avg_sq/{net}/{n}"] = f32(st["exp_avg_sq"])
    tensors = [("imgs", f32(imgs)),
               ("features/encoder", f32(features(encoder, imgs))),
               ("features/target_encoder", f32(features(target_encoder, imgs)))]
    tensors += sorted(moments.items())
    meta = {"config": json.dumps(c), "steps": str(STEPS), "loss": repr(save_dict["loss"])}
    write_safetensors(os.path.join(OUT, "features.safetensors"), tensors, meta)
    for f in sorted(os.listdir(OUT)):
        print(f"{f}: {os.path.getsize(os.path.join(OUT, f))} bytes")


def check_export(path):
    """Load a TS-exported .pth.tar the way the official code would, and recompute the features."""
    torch.set_num_threads(1)
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
        weights_only = True
    except pickle.UnpicklingError as e:
        # torch 1.13's weights-only unpickler lacks BINFLOAT (opcode 71, 'G'), which every
        # checkpoint with a float in it uses (the official ones too); later versions have it.
        if "Unsupported operand 71" not in str(e):
            raise
        ck = torch.load(path, map_location="cpu")
        weights_only = False
    need = ["encoder", "predictor", "target_encoder", "opt", "scaler", "epoch", "loss",
            "batch_size", "world_size", "lr"]
    missing = [k for k in need if k not in ck]
    if missing:
        raise SystemExit(f"check-export: keys missing: {missing}")
    nets = {"encoder": Encoder(CONFIG), "predictor": Predictor(CONFIG),
            "target_encoder": Encoder(CONFIG)}
    for k, m in nets.items():
        sd = ck[k]
        assert all(n.startswith("module.") for n in sd), f"{k}: keys without module."
        m.load_state_dict({n[len("module."):]: v for n, v in sd.items()}, strict=True)
    opt = torch.optim.AdamW(init_opt_groups(nets["encoder"], nets["predictor"]), lr=LR)
    opt.load_state_dict(ck["opt"])
    _, gold = read_safetensors(os.path.join(OUT, "features.safetensors"))
    imgs = torch.from_numpy(gold["imgs"].copy())
    out = {"weights_only": weights_only, "epoch": ck["epoch"], "loss": ck["loss"], "batch_size": ck["batch_size"],
           "world_size": ck["world_size"], "lr": ck["lr"], "opt_states": len(opt.state)}
    ok = True
    for k in ["encoder", "target_encoder"]:
        got = features(nets[k], imgs)
        ref = torch.from_numpy(gold[f"features/{k}"].copy()).double()
        rel = float((got - ref).abs().max() / ref.abs().max())
        out[f"rel_err_{k}"] = rel
        ok = ok and rel < 1e-5
    names = {id(p): ("encoder", n) for n, p in nets["encoder"].named_parameters()}
    names.update({id(p): ("predictor", n) for n, p in nets["predictor"].named_parameters()})
    worst = 0.0
    for p, st in opt.state.items():
        net, n = names[id(p)]
        key = f"opt/exp_avg/{net}/{n}"
        if key in gold:
            worst = max(worst, float(np.abs(st["exp_avg"].numpy() - gold[key]).max()))
    out["opt_moment_err"] = worst
    out["opt_steps"] = sorted({float(st["step"]) for st in opt.state.values()})
    ok = ok and worst == 0.0
    print(json.dumps(out))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "check-export":
        check_export(sys.argv[2])
    elif len(sys.argv) == 1:
        make()
    else:
        raise SystemExit("usage: make_interop.py [check-export FILE.pth.tar]")
