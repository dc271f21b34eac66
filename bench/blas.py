# blas.py: time numpy float32 matmul (sgemm in whatever BLAS numpy loaded) on the matmul
# bench shapes; prints one JSON object: {"blas": <library path>, "threads": <n>, "rows": [...]}.
# Run by bench/peers.ts as `/usr/bin/python3 bench/blas.py '<shapes json>'`. The library is
# read from /proc/self/maps (Debian's numpy links libblas.so.3, which the alternatives system
# points at the reference BLAS or, once libopenblas0-pthread is installed, at OpenBLAS).
import json, os, sys, time
import numpy as np

shapes = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
rows = []
for s in shapes:
    b, M, N, K, tA, tB = s["batch"], s["M"], s["N"], s["K"], s["transA"], s["transB"]
    a = rng.standard_normal((b, K, M) if tA else (b, M, K), dtype=np.float32)
    w = rng.standard_normal((b, N, K) if tB else (b, K, N), dtype=np.float32)
    A = a.transpose(0, 2, 1) if tA else a
    B = w.transpose(0, 2, 1) if tB else w
    if b == 1:
        A, B = A[0], B[0]
    np.matmul(A, B)  # warm up (threads, pages)
    best, reps = float("inf"), 1
    t0 = time.perf_counter(); np.matmul(A, B); once = time.perf_counter() - t0
    reps = max(1, min(200, int(0.15 / max(once, 1e-6))))
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            np.matmul(A, B)
        best = min(best, (time.perf_counter() - t0) / reps)
    rows.append({**s, "seconds": best, "gflops": 2 * b * M * N * K / best / 1e9})

libs = sorted({line.split()[-1] for line in open("/proc/self/maps") if "blas" in line.lower() and ".so" in line})
threads = None
try:
    from threadpoolctl import threadpool_info
    threads = [(i.get("internal_api"), i.get("num_threads"), i.get("version")) for i in threadpool_info()]
except Exception:
    pass
print(json.dumps({"blas": libs, "threads": threads, "numpy": np.__version__, "env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}, "rows": rows}))
