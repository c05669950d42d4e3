#!/usr/bin/env python3
"""Instructions per request against waits per request, over callgrind runs.

A loop engine's total per request swings with how many waits a run makes
(whether the next request is already there when the core asks): compare
builds by the cost per wait and the cost at no wait, not by one total.

  bench/cg_waits.py [--func gv_wait] [-n 3000] [-c 50] DIR...

Each DIR is one `bench/callgrind.py --keep DIR -n N -c C ...` run. Prints,
per run, the total per request, the calls of --func per request and the
libpython part; then the least-squares line total = a + b * waits.
--split DIR prints one run's per-request self cost by object instead.
"""
import os, re, sys

def parse(path, funcs):
    names = {"ob": {}, "fn": {}, "fl": {}, "cob": {}, "cfn": {}, "cfl": {}}
    ob = fn = None
    by_ob, by_fn, calls = {}, {}, {}
    skip = False
    cfn = None
    with open(path) as f:
        for line in f:
            if skip:
                skip = False
                continue
            c0 = line[:1]
            if c0.isdigit() or c0 in "+-*":
                parts = line.split()
                if len(parts) >= 2:
                    ir = int(parts[-1])
                    by_ob[ob] = by_ob.get(ob, 0) + ir
                    by_fn[fn] = by_fn.get(fn, 0) + ir
                continue
            m = re.match(r"(ob|fn|fl|fi|fe|cob|cfn|cfi|cfl)=(?:\((\d+)\))?\s*(.*)$", line.rstrip("\n"))
            if m:
                k, i, n = m.groups()
                key = {"fi": "fl", "fe": "fl", "cfi": "cfl", "cob": "ob", "cfn": "fn", "cfl": "fl"}.get(k, k)
                tbl = names.setdefault(key, {})
                if i is not None and n:
                    tbl[i] = n
                val = tbl.get(i, n) if i is not None else n
                if k == "ob":
                    ob = os.path.basename(val)
                elif k == "fn":
                    fn = val
                elif k == "cfn":
                    cfn = val
                continue
            if line.startswith("calls="):
                n = int(line.split("=")[1].split()[0])
                for fu in funcs:
                    if cfn == fu:
                        calls[fu] = calls.get(fu, 0) + n
                skip = True
    return by_ob, by_fn, calls

def total(files, funcs):
    ob, fn, ca = {}, {}, {}
    for p in files:
        a, b, c = parse(p, funcs)
        for d, s in ((ob, a), (fn, b), (ca, c)):
            for k, v in s.items():
                d[k] = d.get(k, 0) + v
    return ob, fn, ca

def split_main():
    d = sys.argv[1]
    funcs = sys.argv[2:] or ["gv_wait"]
    n_req = int(os.environ.get("NREQ", "3000"))
    c = int(os.environ.get("CONNS", "50"))
    big = [os.path.join(d, f) for f in os.listdir(d) if f.startswith("cg.n.")]
    one = [os.path.join(d, f) for f in os.listdir(d) if f.startswith("cg.one.")]
    bo, bf, bc = total(big, funcs)
    oo, of, oc = total(one, funcs)
    n = n_req - c
    tot = (sum(bo.values()) - sum(oo.values())) / n
    print("total %.0f Ir/request" % tot)
    for fu in funcs:
        k = (bc.get(fu, 0) - oc.get(fu, 0))
        print("calls %s: %.3f per request (%d)" % (fu, k / n, k))
    rows = sorted(((bo[k] - oo.get(k, 0)) / n, k) for k in bo)
    for per, k in reversed(rows):
        if per >= 50:
            print("%9.0f  %s" % (per, k))
    if os.environ.get("FN"):
        rows = sorted(((bf[k] - of.get(k, 0)) / n, k) for k in bf)
        for per, k in reversed(rows[-int(os.environ["FN"]):]):
            print("  fn %9.0f  %s" % (per, k))



def run_of(d, func, n_req, c):
    big = [os.path.join(d, f) for f in os.listdir(d) if f.startswith("cg.n.")]
    one = [os.path.join(d, f) for f in os.listdir(d) if f.startswith("cg.one.")]
    bo, _, bc = total(big, [func])
    oo, _, oc = total(one, [func])
    n = n_req - c
    ob = {k: (v - oo.get(k, 0)) / n for k, v in bo.items()}
    return sum(ob.values()), (bc.get(func, 0) - oc.get(func, 0)) / n, ob


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--func", default="gv_wait")
    ap.add_argument("-n", type=int, default=3000)
    ap.add_argument("-c", type=int, default=50)
    ap.add_argument("--split", action="store_true")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    xs, ys = [], []
    for d in a.dirs:
        t, w, ob = run_of(d, a.func, a.n, a.c)
        lp = [v for k, v in ob.items() if k and k.startswith("libpython")]
        print("%-30s %6.0f per request, %.3f waits, libpython %.0f"
              % (d, t, w, lp[0] if lp else 0))
        if a.split:
            for k, v in sorted(ob.items(), key=lambda kv: -kv[1]):
                if v >= 50:
                    print("%9.0f  %s" % (v, k))
        xs.append(w)
        ys.append(t)
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if n > 1 and sxx > 0:
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
        print("fit: %.0f + %.0f per wait (at 0.5 waits per request: %.0f, "
              "at 1: %.0f)" % (my - b * mx, b, my - b * mx + b / 2,
                               my - b * mx + b))


if __name__ == "__main__":
    main()
