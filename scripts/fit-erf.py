"""Fit the piecewise polynomials of the WGSL erf in kernels/elementwise.wgsl.ts.

Each piece is a Chebyshev least-squares fit against mpmath's erf (30 digits), converted to a
polynomial in (|x| - centre) with f32 coefficients, and shaped so that its f32 rounding stays near
half an ulp of the result:
    |x| < B0             erf = x + x*Q(x^2)              Q = erf(x)/x - 1 is small
    MIDS[i]              erf = C + P(|x| - m)            C = erf(m) in f32, P is small
    2 <= |x| < 4         erf = 1 - exp(-x^2) * G(|x| - 3)  G = erfc(x)*exp(x^2) is smooth
    |x| >= 4             +-1                              erfc(4) = 1.5e-8
It prints the WGSL body and the worst absolute error of an f32 simulation (fused and unfused
multiply-add), to compare with the GPU test in test/ops-elementwise.test.ts.
Run: python3 scripts/fit-erf.py   (numpy, mpmath)
"""
import mpmath as mp
import numpy as np
from numpy.polynomial import chebyshev as C

mp.mp.dps = 30
f32 = np.float32
B0, B0_DEG = 0.75, 7
MIDS, MID_DEG = [(0.75, 1.125), (1.125, 1.5), (1.5, 2.0)], 7
TAIL, TAIL_DEG = (2.0, 4.0), 7


def fit(fun, a, b, deg, n=400):
    """Monomial coefficients (low to high) in (z - (a+b)/2) of a Chebyshev LS fit on [a, b]."""
    h, c = (b - a) / 2, (a + b) / 2
    u = np.cos(np.pi * (np.arange(n) + 0.5) / n)
    y = np.array([fun(c + h * v) for v in u])
    pu = C.cheb2poly(C.chebfit(u, y, deg))
    return [pu[i] / h**i for i in range(len(pu))]


def q_of(s):
    if s == 0:
        return float(2 / mp.sqrt(mp.pi) - 1)
    x = mp.sqrt(s)
    return float(mp.erf(x) / x - 1)


shifted = np.polynomial.Polynomial(fit(q_of, 0.0, B0**2, B0_DEG))(np.polynomial.Polynomial([-B0**2 / 2, 1])).coef
b0 = [f32(c) for c in shifted]
mids = []
for a, b in MIDS:
    m = (a + b) / 2
    cm = f32(float(mp.erf(m)))
    mids.append((b, m, cm, [f32(c) for c in fit(lambda z: float(mp.erf(z)) - float(cm), a, b, MID_DEG)]))
tail = [f32(c) for c in fit(lambda z: float(mp.erfc(z) * mp.exp(z * z)), TAIL[0], TAIL[1], TAIL_DEG)]


def lit(v):
    return np.format_float_positional(f32(v), unique=True) if abs(v) >= 1e-4 else np.format_float_scientific(f32(v), unique=True)


def horner(cf, var):
    s = lit(cf[-1])
    for c in cf[-2::-1]:
        s = f"fma({var}, {s}, {lit(c)})"
    return s


def erf32(x, fused):
    madd = (lambda a, b, c: f32(float(a) * float(b) + float(c))) if fused else (lambda a, b, c: f32(f32(a * b) + c))

    def ev(cf, t):
        acc = cf[-1]
        for c in cf[-2::-1]:
            acc = madd(t, acc, c)
        return acc

    z = f32(abs(x))
    if z < B0:
        r = madd(z, ev(b0, f32(z * z)), z)
    elif z < TAIL[0]:
        b, m, cm, cf = next(p for p in mids if z < p[0])
        r = f32(cm + ev(cf, f32(z - f32(m))))
    elif z < TAIL[1]:
        r = f32(f32(1) - f32(f32(np.exp(-float(f32(z * z)))) * ev(tail, f32(z - f32(3)))))
    else:
        r = f32(1)
    return r if x >= 0 else -r


print(f"if (z < {B0}) {{\n  let s = z * z;\n  r = fma(z, {horner(b0, 's')}, z);")
for b, m, cm, cf in mids:
    print(f"}} else if (z < {b}) {{\n  let t = z - {m};\n  r = {lit(cm)} + {horner(cf, 't')};")
print(f"}} else if (z < {TAIL[1]}) {{\n  let t = z - 3.0;\n  r = 1.0 - exp(-z * z) * {horner(tail, 't')};")
xs = (np.arange(0, 40001) * 1e-4).astype(f32)
for fused in (True, False):
    worst = max(abs(float(erf32(x, fused)) - float(mp.erf(float(x)))) for x in xs[::3])
    print(f"// f32 simulation, {'fused' if fused else 'unfused'} multiply-add: max |err| = {worst:.3e}")
