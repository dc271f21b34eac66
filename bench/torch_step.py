#!/usr/bin/python3
"""torch_step.py: time the I-JEPA train step of a preset in PyTorch on this machine's CPU.

Uses the model of test/golden/make_step_bundle.py (our spec-based re-implementation of the
official code), the same preset shape, batch and mask sizes as `bench/train-step.ts` passes in,
float32, AdamW in the four official groups and the EMA update. Prints one JSON line:
{"ms_per_step": ..., "blas": ..., "threads": ...}. Which BLAS torch runs is reported because
Debian's torch uses the slow reference BLAS unless OpenBLAS is installed. THREADS sets torch's
intra-op threads (torch.set_num_threads; default 1): on a small machine OpenBLAS's own threads
and torch's pool can fight over the cores, so bench/train-step.ts runs both 1 and 2.
Usage: torch_step.py '<json config>' STEPS [THREADS]
"""
import json, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "golden"))
import torch
from make_step_bundle import Encoder, Predictor, param_groups, target_copy, train_step

c = json.loads(sys.argv[1])
steps = int(sys.argv[2])
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
torch.manual_seed(0)
enc, pred = Encoder(c), Predictor(c)
tgt = target_copy(enc, c)
opt = torch.optim.AdamW(param_groups(enc, pred, 0.04), lr=1e-4)
B, G = c["batch"], c["img"] // c["patch"]
x = torch.randn(B, c["chans"], c["img"], c["img"])
# fixed masks of the sizes the engine run reports (context Kc, 4 targets of Kt), ascending
g = torch.Generator().manual_seed(0)
def rows(K):
    return torch.stack([torch.randperm(G * G, generator=g)[:K].sort().values for _ in range(B)])
menc = [rows(c["kc"])]
mpred = [rows(c["kt"]) for _ in range(4)]

def step():
    return train_step(enc, pred, tgt, opt, x, menc, mpred, 1, 0.996).item()

step(); step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
ms = (time.perf_counter() - t0) / steps * 1e3
# Debian's torch is built with BLAS_INFO=generic: it calls whatever libblas.so.3 the
# alternatives system points at (reference BLAS, or OpenBLAS once libopenblas0-pthread is in),
# unless a BLAS is preloaded (bench/train-step.ts preloads each other BLAS it finds)
blas_lib = os.environ.get("LD_PRELOAD") or os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
blas = "OpenBLAS" if "openblas" in blas_lib else "reference BLAS" if "blas/libblas" in blas_lib else blas_lib
print(json.dumps({"ms_per_step": ms, "blas": blas, "threads": torch.get_num_threads(), "torch": torch.__version__}))
